/**
 * A store that runs transitions as server-side scripts (Redis) says which it has through
 * `supports(name, params)`; every consumer asks at construction and refuses a store that
 * lacks one, naming it, rather than fall back to a read and a write that are not atomic.
 */
import { describe, expect, it } from 'vitest';
import { circuitBreaker } from '../breaker/breaker.js';
import { consecutive } from '../breaker/strategy.js';
import { idempotency } from '../idempotency/idempotency.js';
import { messageProcessor } from '../messages/processor.js';
import { gcra } from '../ratelimit/gcra.js';
import { rateLimitGroup } from '../ratelimit/group.js';
import { rateLimiter } from '../ratelimit/limiter.js';
import { tokenBucket } from '../ratelimit/token-bucket.js';
import { backoff } from '../retry/backoff.js';
import { saga } from '../saga/saga.js';
import { memoryStore } from './memory.js';
import type { JsonValue, Store } from './store.js';

/** A memory store that claims to lack the transitions `refuse` picks (and records every question). */
function scripted(refuse: (name: string, params: JsonValue | undefined) => boolean) {
  const asked: string[] = [];
  const store: Store = Object.assign(memoryStore(), {
    supports(name: string, params?: JsonValue) {
      asked.push(name);
      return !refuse(name, params);
    },
  });
  return { store, asked };
}

const consumers: [string, (store: Store) => unknown, string[]][] = [
  [
    'rateLimiter',
    (store) => rateLimiter({ algorithm: [tokenBucket(), gcra({ limit: 1, periodMs: 1 })], store }),
    ['ratelimit.tokenBucket', 'ratelimit.tokenBucket.peek', 'ratelimit.gcra', 'ratelimit.gcra.peek'],
  ],
  [
    'rateLimitGroup',
    (store) => rateLimitGroup({ limits: { search: tokenBucket() }, store }),
    ['ratelimit.tokenBucket', 'ratelimit.tokenBucket.peek'],
  ],
  [
    'idempotency',
    (store) => idempotency({ store }),
    ['idempotency.begin', 'idempotency.complete', 'idempotency.release'],
  ],
  ['saga', (store) => saga('order', { store }), ['saga.log', 'saga.claim']],
  [
    'messageProcessor',
    (store) => messageProcessor({ handler: () => undefined, deadLetter: () => undefined, store }),
    ['messages.attempt', 'messages.failed', 'messages.claim', 'messages.release', 'messages.dead', 'messages.done'],
  ],
  [
    'circuitBreaker',
    (store) => circuitBreaker({ store, strategy: consecutive(2), registry: false }),
    ['breaker.consecutive'],
  ],
];

describe('store.supports', () => {
  it.each(consumers)('%s asks the store at construction about every transition it will apply', (_, make, names) => {
    const { store, asked } = scripted(() => false);
    make(store);
    expect([...new Set(asked)].sort()).toEqual([...names].sort());
  });

  it.each(consumers)('%s refuses a store lacking one of its transitions, naming it', (_, make, names) => {
    for (const missing of names) {
      const { store } = scripted((name) => name === missing);
      expect(() => make(store)).toThrow(
        expect.objectContaining({ name: 'ConfigurationError', code: 'invalid_options' }),
      );
      const named = new RegExp(`store: received "a store without ([^"]*, )?${missing.replace(/\./g, '\\.')}(,|")`);
      expect(() => make(store)).toThrow(named);
    }
  });

  it('passes the params, so a store may refuse a configuration its script cannot follow', () => {
    const { store } = scripted(
      (name, params) => name.startsWith('breaker.') && JSON.stringify(params).includes('backoff'),
    );
    expect(() => circuitBreaker({ store, halfOpenAfter: 1_000, registry: false })).not.toThrow();
    expect(() =>
      circuitBreaker({ store, halfOpenAfter: backoff.exponential({ initialMs: 100 }), registry: false }),
    ).toThrow(/breaker\.consecutive/);
  });

  it('a store without supports runs every transition (the memory store)', () => {
    for (const [, make] of consumers) expect(() => make(memoryStore())).not.toThrow();
  });
});
