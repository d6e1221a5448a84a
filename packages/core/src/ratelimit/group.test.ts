import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { ConfigurationError, StoreUnavailableError } from '../errors/errors.js';
import { memoryStore } from '../store/memory.js';
import type { Store } from '../store/store.js';
import {
  defaultOperationLimits,
  OPERATION_LIMITS_PER_MINUTE,
  RATE_LIMIT_GROUP_DEFAULTS,
  rateLimitGroup,
} from './group.js';
import { fixedWindow } from './windows.js';

describe('rateLimitGroup', () => {
  it('seeds search 30, transform 10, embed 60 and health_check 10 a minute', async () => {
    expect(OPERATION_LIMITS_PER_MINUTE).toEqual({ search: 30, transform: 10, embed: 60, health_check: 10 });
    const limits = defaultOperationLimits();
    expect(Object.fromEntries(Object.entries(limits).map(([op, a]) => [op, a.limit]))).toEqual(
      OPERATION_LIMITS_PER_MINUTE,
    );
    const clock = new FakeClock();
    const group = rateLimitGroup({ limits, clock });
    for (let i = 0; i < 10; i++) expect((await group.consume('health_check', 'org-1')).allowed).toBe(true);
    expect(await group.consume('health_check', 'org-1')).toMatchObject({ allowed: false, retryAfterMs: 6_000 });
  });

  it('limits each operation per key independently', async () => {
    const clock = new FakeClock();
    const group = rateLimitGroup({ limits: defaultOperationLimits(), clock });
    for (let i = 0; i < 10; i++) expect((await group.consume('transform', 'org-1')).allowed).toBe(true);
    expect(await group.consume('transform', 'org-1')).toMatchObject({ allowed: false, retryAfterMs: 6000 });
    expect((await group.consume('transform', 'org-2')).allowed).toBe(true);
    expect((await group.consume('search', 'org-1')).allowed).toBe(true);
    expect((await group.peek('transform', 'org-1')).allowed).toBe(false);
    await group.reset('transform', 'org-1');
    expect((await group.peek('transform', 'org-1')).allowed).toBe(true);
    const waited = group.wait('transform', 'org-2', { cost: 10 });
    await clock.advance(6000);
    expect((await waited).allowed).toBe(true);
    expect(group.stats().transform).toMatchObject({ requests: 13, allowed: 12, blocked: 1 });
    expect(group.operations).toEqual(['search', 'transform', 'embed', 'health_check']);
  });

  it('shares one store with every operation under its own prefix', async () => {
    const store = memoryStore();
    const group = rateLimitGroup({ limits: { a: fixedWindow({ limit: 1, windowMs: 1000 }) }, store, name: 'api' });
    await group.consume('a', 'u');
    expect(await store.keys('{rl:api', 0)).toEqual(['{rl:api:a|u}']);
  });

  it('passes onStoreError and denialCache to every operation', async () => {
    const fail = () => Promise.reject(new StoreUnavailableError('down'));
    const down: Store = { apply: fail, applyAll: fail, get: fail, set: fail, delete: fail, keys: fail };
    const limits = { a: fixedWindow({ limit: 1, windowMs: 1000 }) };
    await expect(rateLimitGroup({ limits, store: down, onStoreError: 'closed' }).consume('a', 'u')).rejects.toThrow(
      StoreUnavailableError,
    );
    expect(() => rateLimitGroup({ limits, store: down, denialCache: { maxKeys: 0 } })).toThrow(/denialCache\.maxKeys/);
  });

  it('rejects an unknown operation with ConfigurationError naming operation', async () => {
    const group = rateLimitGroup({ limits: defaultOperationLimits() });
    const error = await group.consume('upload' as 'search', 'k').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).issues[0]?.option).toBe('operation');
    expect(() => rateLimitGroup({ limits: {} })).toThrow(/limits/);
  });

  it('pins its default name and rejects bad options naming each, limits by operation', () => {
    expect(RATE_LIMIT_GROUP_DEFAULTS).toEqual({ name: 'rateLimitGroup' });
    let error: unknown;
    try {
      rateLimitGroup({ limits: { search: {} as never, embed: [] }, maxWaitMs: -1, maxWaiters: -1 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).issues.map((i) => i.option)).toEqual([
      'limits.search',
      'limits.embed',
      'maxWaitMs',
      'maxWaiters',
    ]);
  });
});
