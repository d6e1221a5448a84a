import { expect, it } from 'vitest';
import { OptionsValidator, refuseSignal } from './validate.js';

const WHERE = 'nothing here (a signal cancels one request: fetch(url, { signal }))';

it('names a signal at the top and in each section given with what the caller says, calling no getter', () => {
  const { signal } = new AbortController();
  const v = new OptionsValidator('withResilience');
  const breaker = Object.defineProperty({}, 'signal', {
    enumerable: true,
    get: () => {
      throw new Error('read');
    },
  });
  refuseSignal(
    v,
    { signal, retry: { signal }, breaker, timeout: 10, metrics: { other: 1 } },
    WHERE,
    'retry',
    'breaker',
  );
  expect(v.issues.map((i) => [i.option, i.received, i.allowed])).toEqual([
    ['signal', signal, WHERE],
    ['retry.signal', signal, WHERE],
    ['breaker.signal', undefined, WHERE],
  ]);
});

it('passes over options that are no plain object, a section that is none or not given, and a hostile proxy', () => {
  const { signal } = new AbortController();
  const v = new OptionsValidator('link');
  refuseSignal(v, null, WHERE, 'retry');
  refuseSignal(v, [signal], WHERE);
  refuseSignal(v, { retry: Object.assign(new Map(), { signal }), breaker: { signal } }, WHERE, 'retry');
  const revoked = Proxy.revocable({}, {});
  revoked.revoke();
  refuseSignal(v, { retry: revoked.proxy }, WHERE, 'retry');
  const trap = () => {
    throw new Error('trap');
  };
  refuseSignal(v, new Proxy({}, { getOwnPropertyDescriptor: trap }), WHERE);
  expect(v.issues).toEqual([]);
});
