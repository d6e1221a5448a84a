/**
 * The suite has teeth: stores that each break one promise of the contract fail the
 * scenarios that rely on it (and a correct store passes all of them, in conformance.test.ts).
 */
import { describe, expect, it } from 'vitest';
import {
  circuitBreaker,
  consecutive,
  countWindow,
  fixedWindow,
  gcra,
  idempotency,
  messageProcessor,
  rateLimiter,
  saga,
  slidingWindow,
  timeWindow,
  tokenBucket,
} from '../index.js';
import { memoryStore } from '../store/memory.js';
import type { Store, Transition, TransitionResult } from '../store/store.js';
import { rejects } from './conformance-kit.js';
import { storeConformanceScenarios } from './store-conformance.js';
import { storeOver } from './store-over.js';

const forward = (base: Store): Store => storeOver(base);

/** A store whose transitions' results are rewritten by `change` (for one broken promise). */
type Result = TransitionResult<unknown, unknown>;
function rewriting(change: (r: Result) => Result, maxKeys?: number): () => Store {
  return () => {
    const base = memoryStore(maxKeys === undefined ? {} : { maxKeys });
    const wrap = <S, I, O>(t: Transition<S, I, O>): Transition<S, I, O> => ({
      name: t.name,
      params: t.params,
      apply: (state, input, now) => change(t.apply(state, input, now)) as TransitionResult<S, O>,
    });
    return {
      ...forward(base),
      apply: (key, transition, input, now) => base.apply(key, wrap(transition), input, now),
      applyAll: (ops, now) =>
        base.applyAll(
          ops.map((op) => ({ ...op, transition: wrap(op.transition) })),
          now,
        ),
    };
  };
}

async function failing(makeStore: () => Store): Promise<string[]> {
  const failed: string[] = [];
  for (const scenario of storeConformanceScenarios()) {
    await scenario.run(makeStore).catch(() => failed.push(scenario.name));
  }
  return failed;
}

const byArea = (names: string[]) => [...new Set(names.map((n) => n.split(/[:(]/)[0]))].sort();

describe('the store conformance suite', () => {
  it('says which error a step that resolved should have rejected with, with its article', async () => {
    await expect(rejects(async () => 1, Error, 'apply')).rejects.toThrow('apply: expected an Error, but it resolved');
    await expect(rejects(async () => 1, TypeError, 'get')).rejects.toThrow(
      'get: expected a TypeError, but it resolved',
    );
  });

  it('passes a correct store', async () => {
    expect(await failing(() => memoryStore())).toEqual([]);
  });

  it('fails a store that never expires keys, in every area that keeps state with a TTL', async () => {
    const failed = await failing(rewriting((r) => (r.ttlMs > 0 ? { ...r, ttlMs: Number.POSITIVE_INFINITY } : r)));
    expect(byArea(failed)).toEqual(
      expect.arrayContaining(['idempotency', 'keys', 'messages', 'saga claim', 'saga log']),
    );
  });

  it('fails a store that writes read-only steps (ignores write: false)', async () => {
    const failed = await failing(rewriting((r) => (r.write === false ? { ...r, write: true } : r)));
    expect(byArea(failed)).toEqual(expect.arrayContaining(['idempotency', 'messages', 'saga claim', 'saga log']));
  });

  it('fails a store that bounds its keys and evicts pinned ones (ignores pinned)', async () => {
    const failed = await failing(rewriting(({ pinned: _, ...r }) => r, 8));
    expect(failed).toEqual([
      'pins: an in-flight lock survives 300 other records where the store bounds keys, until its TTL',
    ]);
  });

  it('fails a store whose apply is a get and a set (not atomic)', async () => {
    const failed = await failing(() => {
      const base = memoryStore();
      return {
        ...forward(base),
        async apply(key, transition, input, now) {
          const state = await base.get(key, now);
          await new Promise<void>((resolve) => setImmediate(resolve));
          const r = transition.apply(state as never, input, now);
          if (r.write === false) return r.output;
          if (r.state === undefined) await base.delete(key);
          else await base.set(key, r.state, r.ttlMs, now);
          return r.output;
        },
      };
    });
    expect(failed).toEqual(
      expect.arrayContaining([
        'breaker: a count window kept in the store; of 10 concurrent acquires when half-open one probes',
        'idempotency: of 100 concurrent claims of one key exactly one acquires it',
        'messages: 50 concurrent attempts on one id get the numbers 1 to 50',
        'saga claim: a stale log is taken over once, its old owner is shut out, a failed log is left alone',
      ]),
    );
  });

  it('fails a store whose keys() lets expired keys use up the limit', async () => {
    const failed = await failing(() => {
      const base = memoryStore();
      return {
        ...forward(base),
        async keys(prefix, now, options) {
          const all = await base.keys(prefix, Number.NEGATIVE_INFINITY, { limit: Number.POSITIVE_INFINITY });
          const first = all.slice(0, options?.limit ?? 1000);
          const live = new Set(await base.keys(prefix, now, { limit: Number.POSITIVE_INFINITY }));
          return first.filter((k) => live.has(k));
        },
      };
    });
    expect(failed).toEqual([
      'keys(prefix): lists live keys with the prefix, exactly up to the limit, skipping expired ones',
    ]);
  });

  it('fails a store whose keys(prefix) reads the prefix as a glob pattern (an unescaped SCAN MATCH)', async () => {
    const glob = (prefix: string) =>
      new RegExp(
        `^${prefix
          .replace(/[.+^${}()|\\]/g, '\\$&')
          .replace(/\*/g, '.*')
          .replace(/\?/g, '.')}`,
      );
    const failed = await failing(() => {
      const base = memoryStore();
      return {
        ...forward(base),
        async keys(prefix, now, options) {
          const all = await base.keys('', now, { limit: Number.POSITIVE_INFINITY });
          return all.filter((k) => glob(prefix).test(k)).slice(0, options?.limit ?? 1000);
        },
      };
    });
    expect(failed).toEqual([
      'namespaces: names where one is a prefix (or a glob) of another never see each other’s keys',
    ]);
  });

  it('fails a store that says it cannot apply a toolkit transition, or applies one it says it cannot', async () => {
    const saying = (supports: (name: string) => boolean) => () => ({ ...forward(memoryStore()), supports });
    const supportScenario = [
      'supports: a store that names what it applies applies every toolkit transition, and refuses the rest',
    ];
    expect(await failing(saying((name) => name !== 'messages.dead'))).toEqual(supportScenario);
    expect(await failing(saying((name) => !name.startsWith('conformance.')))).toEqual(supportScenario);
    expect(await failing(saying(() => true))).toEqual([]);
  });

  it('fails a store that says no to any transition a consumer asks it for at construction', async () => {
    const asked = new Set<string>();
    const store = { ...forward(memoryStore()), supports: (name: string) => asked.add(name) !== undefined };
    const idle = async () => {};
    messageProcessor({ store, handler: idle, deadLetter: idle });
    idempotency({ store });
    saga('s', { store });
    for (const strategy of [
      consecutive(3),
      countWindow({ size: 10, failureRate: 0.5 }),
      timeWindow({ windowMs: 1_000, failureRate: 0.5 }),
    ]) {
      circuitBreaker({ store, strategy, registry: false }).dispose();
      circuitBreaker({ store, strategy, registry: false, sync: 'per-call' }).dispose();
    }
    for (const algorithm of [
      tokenBucket(),
      gcra({ limit: 1, periodMs: 1 }),
      fixedWindow({ limit: 1, windowMs: 1 }),
      slidingWindow({ limit: 1, windowMs: 1 }),
    ])
      rateLimiter({ store, algorithm });
    const scenario = storeConformanceScenarios().find((s) => s.name.startsWith('supports:'));
    const passed: string[] = [];
    for (const name of asked) {
      const refusing = () => ({ ...forward(memoryStore()), supports: (n: string) => n !== name });
      await scenario?.run(refusing).then(() => passed.push(name), idle);
    }
    expect(asked.size).toBeGreaterThan(20);
    expect(passed).toEqual([]);
  });

  it('fails a store that drops a key’s state on a refused batch only partly', async () => {
    const failed = await failing(() => {
      const base = memoryStore();
      return {
        ...forward(base),
        // Applies each operation on its own: a refused step no longer undoes the others.
        applyAll: (ops, now) => Promise.all(ops.map((op) => base.apply(op.key, op.transition, op.input, now))),
      };
    });
    expect(failed).toEqual(
      expect.arrayContaining([
        'applyAll writes every key or none',
        'several limits: a request denied by one consumes from none',
      ]),
    );
  });
});
