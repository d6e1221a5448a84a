import { pathToFileURL } from 'node:url';
import { memoryStore, rateLimiter, tokenBucket } from '@resilience/core';
import { RateLimiter as LimiterPackage } from 'limiter';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { checkTarget, compare, retainedBytesPerStep, type SuiteOptions, type Target } from '../harness.js';

// Per-key consume throughput and memory per key, against rate-limiter-flexible's
// RateLimiterMemory and (one key only, it has no keys) the `limiter` package.
// Targets: ≥ 2.5× rate-limiter-flexible's throughput in each scenario (time ratio ≤ 0.4)
// and ≤ 150 bytes retained per key, key string included.

const TARGET_BYTES = 150;
const KEYS = 100_000;
const ignore = () => undefined;

/** A deterministic key sequence (no ambient randomness in benchmarks either). */
function keySequence(count: number, length: number): string[] {
  const keys = Array.from({ length: count }, (_, i) => `user:${i}`);
  const out: string[] = new Array(length);
  let x = 2463534242;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = keys[(x >>> 0) % count]!;
  }
  return out;
}

/** A reference point: a plain `Map` token bucket behind a promise, reading Date.now() per call (no TTL, no bound, no options). */
function plainMapBucket(capacity: number, perMs: number) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return (key: string) => {
    const now = Date.now();
    let b = buckets.get(key);
    if (b === undefined) {
      b = { tokens: capacity, at: now };
      buckets.set(key, b);
    }
    b.tokens = Math.min(capacity, b.tokens + (now - b.at) * perMs);
    b.at = now;
    const allowed = b.tokens >= 1;
    if (allowed) b.tokens -= 1;
    return Promise.resolve({ allowed, remaining: Math.floor(b.tokens) });
  };
}

/**
 * 100 awaited calls per task run: per-call timing would add two timer reads per call
 * (~100 ns on this machine) to every task, flattening every ratio towards 1.
 */
const BATCH = 100;
const batch =
  (call: () => unknown): (() => Promise<void>) =>
  async () => {
    for (let n = 0; n < BATCH; n++) await call();
  };

/** The same batch without awaiting: what a middleware pays with `consumeSync`. */
const syncBatch =
  (call: () => unknown): (() => void) =>
  () => {
    for (let n = 0; n < BATCH; n++) call();
  };

const target = (ours: string, peer: string): Target => ({ ours, peer, maxRatio: 0.4 });
const targets = (peer: string) => [target('ours consume', peer), target('ours consumeSync', peer)];

export default async function ratelimitSuite(opts: SuiteOptions) {
  // 1 key, never limited.
  const open = rateLimiter({ algorithm: tokenBucket({ capacity: 1e12, refillPerSecond: 1e12 }) });
  const rlfOpen = new RateLimiterMemory({ points: 1e12, duration: 1 });
  const limiterOpen = new LimiterPackage({ tokensPerInterval: 1e12, interval: 'second' });
  const plainOpen = plainMapBucket(1e12, 1e9);
  await compare(
    'Rate limit: 1 key, never limited (per 100 calls)',
    [
      ['ours consume', batch(() => open.consume('k'))],
      ['ours consumeSync', syncBatch(() => open.consumeSync('k'))],
      ['plain Map bucket + Date.now() behind a promise', batch(() => plainOpen('k'))],
      ['rate-limiter-flexible consume', batch(() => rlfOpen.consume('k'))],
      ['limiter tryRemoveTokens (sync)', batch(() => limiterOpen.tryRemoveTokens(1))],
      ['limiter removeTokens (async)', batch(() => limiterOpen.removeTokens(1))],
    ],
    { ...opts, targets: targets('rate-limiter-flexible consume') },
  );

  // 1 key, mostly limited: one token a day, so nearly every call is denied.
  const closed = rateLimiter({ algorithm: tokenBucket({ capacity: 1, refillPerSecond: 1 / 86_400 }) });
  const rlfClosed = new RateLimiterMemory({ points: 1, duration: 86_400 });
  const limiterClosed = new LimiterPackage({ tokensPerInterval: 1, interval: 'day' });
  await compare(
    'Rate limit: 1 key, mostly limited (per 100 calls)',
    [
      ['ours consume', batch(() => closed.consume('k'))],
      ['ours consumeSync', syncBatch(() => closed.consumeSync('k'))],
      // rate-limiter-flexible rejects each denial (with a non-Error RateLimiterRes).
      ['rate-limiter-flexible consume', batch(() => rlfClosed.consume('k').catch(ignore))],
      ['limiter tryRemoveTokens (sync)', batch(() => limiterClosed.tryRemoveTokens(1))],
    ],
    { ...opts, targets: targets('rate-limiter-flexible consume') },
  );

  // 100 000 keys in a pseudo-random order, 10 a second each.
  const sequence = keySequence(KEYS, 1 << 20);
  const mask = sequence.length - 1;
  let i = 0;
  let j = 0;
  const many = rateLimiter({
    algorithm: tokenBucket({ capacity: 10, refillPerSecond: 10 }),
    store: memoryStore({ maxKeys: KEYS }),
  });
  const rlfMany = new RateLimiterMemory({ points: 10, duration: 1 });
  const plainMany = plainMapBucket(10, 0.01);
  let p = 0;
  await compare(
    `Rate limit: ${KEYS.toLocaleString('en')} random keys (per 100 calls)`,
    [
      ['ours consume', batch(() => many.consume(sequence[i++ & mask]!))],
      ['ours consumeSync', syncBatch(() => many.consumeSync(sequence[i++ & mask]!))],
      ['plain Map bucket + Date.now() behind a promise', batch(() => plainMany(sequence[p++ & mask]!))],
      ['rate-limiter-flexible consume', batch(() => rlfMany.consume(sequence[j++ & mask]!).catch(ignore))],
    ],
    { ...opts, targets: targets('rate-limiter-flexible consume') },
  );

  await rateLimitMemory(opts);
}

/**
 * Memory per key, key string included: a limiter over a shared memory store (keys in its
 * namespace's key space), against rate-limiter-flexible. Deterministic enough to run on a
 * loaded machine, alone: `node --expose-gc --import tsx src/suites/ratelimit.ts`.
 */
export async function rateLimitMemory(opts: SuiteOptions): Promise<void> {
  const count = opts.quick ? 20_000 : 1_000_000;
  const figures = [];
  for (const keys of opts.quick ? [count] : [100_000, count]) {
    const store = memoryStore({ maxKeys: keys });
    const limiter = rateLimiter({ algorithm: tokenBucket({ capacity: 10, refillPerSecond: 0.001 }), store });
    const bytes = retainedBytesPerStep(
      keys,
      (k) => void limiter.consumeSync(`user:${k}`),
      () => store,
    );
    store.clear();
    figures.push({ limiter: "ours (shared store, namespace 'rl:rateLimiter|')", keys, bytes: Math.round(bytes) });
  }
  const rlf = new RateLimiterMemory({ points: 10, duration: 3600 });
  const theirs = retainedBytesPerStep(
    count,
    (k) => void rlf.consume(`user:${k}`).catch(ignore),
    () => rlf,
  );
  figures.push({ limiter: 'rate-limiter-flexible RateLimiterMemory', keys: count, bytes: Math.round(theirs) });
  const ours = figures[0]!.bytes;
  console.log(`\n## Rate limit memory per key${opts.quick ? ' (quick mode: figures not meaningful)' : ''}`);
  console.table(figures);
  checkTarget('ours bytes per key', ours, TARGET_BYTES, opts, { unit: 'B' });
  checkTarget('ours / rate-limiter-flexible bytes', ours / theirs, 0.4, opts);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await rateLimitMemory({ quick: process.argv.includes('--quick') });
}
