// Records under the store's prefix that its scripts did not write as they are: a key edited by
// hand, damaged, or written by another program with the same prefix. Each reads as absent or
// fails with StoreUnavailableError, never as a decision made of NaN or one that lasts for good.
import {
  circuitBreaker,
  consecutive,
  fixedWindow,
  gcra,
  type RateLimitAlgorithm,
  slidingWindow,
  tokenBucket,
} from '@resilience/core';
import { describe, expect, it } from 'vitest';
// Core keeps the workflows' transitions private; its conformance suite imports them the same way.
import { beginTransition } from '../../core/src/idempotency/record.js';
import { attemptTransition, claimTransition } from '../../core/src/messages/counter.js';
import { useServer } from './testing/fixture.js';
import { redisStore } from './testing/untimed.js';

const fixture = useServer();
const NOW = 1_000_000;

/** A rate limit's binary value: its tag, its numbers and its expiry as little-endian doubles. */
const packed = (tag: string, ...numbers: number[]): Buffer => {
  const b = Buffer.alloc(1 + 8 * numbers.length);
  b.write(tag, 0, 'latin1');
  for (const [i, n] of numbers.entries()) b.writeDoubleLE(n, 1 + 8 * i);
  return b;
};

const { NaN: nan, POSITIVE_INFINITY: inf } = Number;
const cases: [string, RateLimitAlgorithm, Buffer[]][] = [
  [
    'tokenBucket',
    tokenBucket({ capacity: 10, refillPerSecond: 1 }),
    [
      packed('T', nan, NOW, inf),
      packed('T', -1e300, NOW, inf),
      packed('T', -inf, NOW, inf),
      packed('T', inf, NOW, inf),
      packed('T', 0, nan, inf),
    ],
  ],
  ['gcra', gcra({ limit: 10, periodMs: 10_000 }), [packed('G', nan, inf)]],
  [
    'fixedWindow',
    fixedWindow({ limit: 10, windowMs: 10_000 }),
    [packed('F', NOW, nan, inf), packed('F', NOW, -1e300, inf), packed('F', NOW, inf, inf), packed('F', nan, 3, inf)],
  ],
  [
    'slidingWindow',
    slidingWindow({ limit: 10, windowMs: 10_000 }),
    [
      packed('S', NOW, nan, 0, inf),
      packed('S', NOW, 0, nan, inf),
      packed('S', NOW, -1e300, 0, inf),
      packed('S', NOW, 0, -inf, inf),
      packed('S', NOW, inf, 0, inf),
      packed('S', nan, 1, 1, inf),
    ],
  ],
];

describe('a damaged rate-limit record', () => {
  for (const [name, algorithm, values] of cases) {
    it(`reads as absent: ${name} with NaN, infinite or negative numbers`, async () => {
      const store = redisStore({ client: fixture.client, time: 'caller' });
      const [peeked, fresh] = [
        await store.apply('absent', algorithm.peek, 1, NOW),
        await store.apply('fresh', algorithm.consume, 1, NOW),
      ];
      expect(fresh.allowed).toBe(true);
      for (const [i, value] of values.entries()) {
        await fixture.client.set(`resilience:damaged-${i}`, value);
        const seen = {
          peek: await store.apply(`damaged-${i}`, algorithm.peek, 1, NOW),
          consume: await store.apply(`damaged-${i}`, algorithm.consume, 1, NOW),
        };
        expect({ i, ...seen }).toEqual({ i, peek: peeked, consume: fresh });
      }
    });
  }
});

describe('a damaged breaker value', () => {
  for (const sync of ['per-call', 'synchronised'] as const) {
    it(`reads as absent (${sync}): an unknown state, too few fields, NaN, infinite or text numbers`, async () => {
      const store = redisStore({ client: fixture.client });
      const values = [
        'B,x,0,0,0,0,0,0,0,0,c,0',
        'B,o',
        'B,o,nan,0,0,0,0,0,0,0,c,0', // a NaN round: no probe's settlement ever matched it
        'B,o,1,0,1,inf,0,0,0,0,c,0',
        'B,c,0,0,0,0,0,0,0,0,c,nan', // a window of failures null, which the breaker's strategy refuses
        'B,c,0,0,0,0,0,0,0,0,c,abc',
      ];
      for (const [i, value] of values.entries()) {
        const breaker = circuitBreaker({
          store,
          name: `damaged-${sync}-${i}`,
          strategy: consecutive(2),
          halfOpenAfter: 1_000,
          registry: false,
          sync: sync === 'per-call' ? sync : {},
        });
        await fixture.client.set(`resilience:{breaker|damaged-${sync}-${i}}`, `;${value}`);
        const errors: unknown[] = [];
        breaker.on('store_error', (e) => errors.push(e));
        const ran = await breaker.execute(() => 'ran').catch((e: unknown) => e);
        await breaker.sync();
        expect({ value, ran, state: breaker.state, errors }).toEqual({
          value,
          ran: 'ran',
          state: 'closed',
          errors: [],
        });
      }
    });
  }
});

describe('a damaged idempotency record or message counter', () => {
  // A count or a time that is NaN or infinite: 1e999 is valid JSON (Infinity to JavaScript), nan is not.
  it('reads an infinite or NaN count or time as absent, never as a lease that never ends or a count it cannot write', async () => {
    const store = redisStore({ client: fixture.client, time: 'caller' });
    const owner = JSON.stringify('x');
    for (const until of ['1e999', 'nan']) {
      await fixture.client.set('resilience:idem', `;{"s":"in_flight","fp":null,"owner":${owner},"until":${until}}`);
      expect(await store.apply('idem', beginTransition(1_000), { fp: null, owner: 'y' }, NOW)).toEqual({
        kind: 'acquired',
      });
      await fixture.client.set('resilience:sink', `;{"n":1,"sink":{"by":"a","until":${until}}}`);
      expect(await store.apply('sink', claimTransition(60_000, 1_000), { by: 'b' }, NOW)).toBe('claimed');
    }
    for (const n of ['1e999', 'nan', '-1e999']) {
      await fixture.client.set('resilience:count', `;{"n":${n}}`);
      expect(await store.apply('count', attemptTransition(60_000), null, NOW)).toEqual({ n: 1, attempt: 1 });
    }
  });
});

describe('a reply of a shape no script answers (a client or proxy in between that answers something else)', () => {
  /** An ioredis-shaped client whose every script call answers `reply`. */
  const answering = (reply: unknown) => {
    let calls = 0;
    const client = {
      evalsha: async () => {
        if (++calls > 100) throw new Error('called over and over');
        return reply;
      },
      eval: async () => reply,
      publish: async () => 0,
      on: () => client,
    };
    return client;
  };

  it('keys() rejects with StoreUnavailableError, neither a TypeError nor a SCAN sent over and over', async () => {
    for (const reply of [null, 'OK', 5, { cursor: '0' }]) {
      const store = redisStore({ client: answering(reply) });
      const error = await store.keys('', 0).catch((e: unknown) => e);
      expect({ reply, error: (error as Error).name }).toEqual({ reply, error: 'StoreUnavailableError' });
    }
  });

  it('a rate-limit decision rejects with StoreUnavailableError rather than deny with NaN numbers', async () => {
    for (const reply of ['OK', ['x', 1, 2, 3, 4]]) {
      const store = redisStore({ client: answering(reply) });
      const algorithm = tokenBucket({ capacity: 10, refillPerSecond: 1 });
      const error = await store.apply('k', algorithm.consume, 1, 0).catch((e: unknown) => e);
      expect({ reply, error: (error as Error).name }).toEqual({ reply, error: 'StoreUnavailableError' });
    }
  });

  it('a breaker step rejects with StoreUnavailableError rather than adopt a state that is none', async () => {
    for (const reply of ['OK', null, 'call,shut,1,0', 'call,open,x,0']) {
      const breaker = circuitBreaker({
        store: redisStore({ client: answering(reply) }),
        name: 'odd-reply',
        strategy: consecutive(2),
        registry: false,
        sync: 'per-call',
      });
      const errors: string[] = [];
      breaker.on('store_error', (e) => errors.push(e.type === 'store_error' ? (e.error as Error).name : ''));
      await breaker.execute(() => 'ran').catch(() => undefined);
      expect({ reply, state: breaker.state, errors: errors[0] }).toEqual({
        reply,
        state: 'closed',
        errors: 'StoreUnavailableError',
      });
    }
  });
});
