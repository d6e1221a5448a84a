import { describe, expectTypeOf, it } from 'vitest';
import { withResilience } from './index.js';

describe('withResilience types', () => {
  it('returns a function with fetch’s exact signature', () => {
    const f = withResilience(fetch);
    expectTypeOf(f).parameters.toEqualTypeOf<Parameters<typeof fetch>>();
    expectTypeOf(f).returns.toEqualTypeOf<ReturnType<typeof fetch>>();
    expectTypeOf(f).toMatchTypeOf<typeof fetch>();
  });

  it('keeps the signature of another fetch-compatible function', () => {
    const custom = (input: string, init?: { method?: string }) => fetch(input, init);
    const f = withResilience(custom);
    expectTypeOf(f).parameters.toEqualTypeOf<[string, ({ method?: string } | undefined)?]>();
  });

  it('types idempotent and key with the fetch request', () => {
    withResilience(fetch, {
      idempotent: (request) => {
        expectTypeOf(request.method).toEqualTypeOf<string>();
        return request.url.includes('/v1/');
      },
      key: (request) => new URL(request.url).host,
    });
  });
});
