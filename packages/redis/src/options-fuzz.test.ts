import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { named } from '../../../test-kit/refusal.js';
import { redisStore } from './index.js';

// biome-ignore lint/suspicious/noExplicitAny: feeding the store what its types forbid is the point.
type Any = any;

/** A client of ioredis' shape that never answers. */
const silent = () => ({ evalsha: () => new Promise(() => {}), eval: () => new Promise(() => {}), publish: () => 0 });
const io = new Redis({ lazyConnect: true });
const other = new Redis({ lazyConnect: true });
afterAll(() => {
  io.disconnect();
  other.disconnect();
});

const refusedAs = (options: unknown, option: string, label: string) => {
  const issues = named(() => redisStore(options as Any));
  expect(issues, `${option} = ${label}`).not.toBe('accepted');
  expect(issues, `${option} = ${label}`).toContain(option);
};

describe('each option refuses hostile values, naming it', () => {
  it.each<[string, unknown[]]>([
    ['client', [5, 'redis://127.0.0.1', {}, null, [], new Map(), { host: '127.0.0.1' }, () => io]],
    ['prefix', [5, {}, null, true, [], '{app}', 'app}', Symbol('p')]],
    ['timeoutMs', [Number.NaN, Number.POSITIVE_INFINITY, -1, 0, '200', 5n, {}, [], null, true, () => 200]],
    ['time', ['local', 'SERVER', 5, {}, null, true]],
    ['clock', [{}, 5, null, { now: () => 0 }, Date]],
    ['subscriber', [5, 'x', {}, null, [], io]],
    // an async source answers a promise: every draw would be NaN
    ['random', [0.5, 'x', {}, null, async () => 0.5]],
  ])('%s', (option, values) => {
    for (const value of values) refusedAs({ client: io, [option]: value }, option, String(value));
  });

  it.each(['clinet', 'prefx', 'timeout', 'timeoutMS', 'tim', 'subscribe', 'keyPrefix'])(
    'a misspelt name (%s)',
    (name) => {
      refusedAs({ client: io, [name]: 1 }, name, 'a misspelt name');
    },
  );

  it.each<[string, unknown]>([
    ['a string', 'redis://127.0.0.1'],
    ['an array', [io]],
    ['null', null],
    ['a Map', new Map([['client', io]])],
    ['the client itself', io],
    ['an object whose options are inherited', Object.create({ client: io })],
  ])('options that are %s', (_, options) => {
    refusedAs(options, 'options', String(options));
  });

  it('takes a client of either shape, a second client as subscriber, null-prototype and frozen options', () => {
    expect(named(() => redisStore({ client: io, subscriber: other, prefix: '', timeoutMs: 0.5, time: 'caller' }))).toBe(
      'accepted',
    );
    expect(named(() => redisStore(Object.assign(Object.create(null), { client: silent() })))).toBe('accepted');
    expect(named(() => redisStore(Object.freeze({ client: io, prefix: 'app' }) as Any))).toBe('accepted');
  });
});

describe('timeoutMs past 2^31 − 1 ms does not fire early', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each([
    [2 ** 31 + 1_000, false],
    [50, true],
  ])('timeoutMs %d: given up on within 10 s: %s', async (timeoutMs, givenUp) => {
    const store = redisStore({ client: silent(), timeoutMs });
    let settled = false;
    store.get('k', Date.now()).then(
      () => (settled = true),
      () => (settled = true),
    );
    for (let i = 0; i < 20; i++) await vi.advanceTimersByTimeAsync(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(settled).toBe(givenUp);
  });
});
