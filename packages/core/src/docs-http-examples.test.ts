/**
 * A 5xx is an answer, not an exception: `fetch` resolves with it, so a breaker, a retry or a
 * fallback around a bare `fetch(...)` never sees the failure. Every example in the README and
 * the docs that calls an HTTP API must turn a non-OK response into an error, as the README's
 * quick start does.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../../../', import.meta.url);
const pages = ['README.md', ...readdirSync(new URL('docs/', root)).map((f) => `docs/${f}`)].filter((f) =>
  f.endsWith('.md'),
);

const examples = pages.flatMap((page) =>
  [...readFileSync(new URL(page, root), 'utf8').matchAll(/^```ts[^\n]*\n([\s\S]*?)^```/gm)].map(
    (match, i) => [`${page} example ${i + 1}`, match[1]!] as const,
  ),
);

describe('HTTP calls in the docs', () => {
  it('finds the examples', () => {
    expect(examples.length).toBeGreaterThan(20);
  });

  it('treat a non-OK response as a failure in every example that calls fetch', () => {
    const unchecked = examples
      .filter(([, code]) => /(?<![\w.])fetch\(/.test(code) && !/\bif \(!\w+\.ok\)/.test(code))
      .map(([where]) => where);
    expect(unchecked).toEqual([]);
  });

  it('give every rate window of an example its minimumCalls (the default 1 opens on the first failure)', () => {
    const eager = examples.flatMap(([where, code]) =>
      [...code.matchAll(/\b(countWindow|timeWindow)\(\{[^}]*\}/g)]
        .filter(([call]) => !/\bminimumCalls\b/.test(call))
        .map(([call]) => `${where}: ${call}`),
    );
    expect(eager).toEqual([]);
  });
});
