import { circuitBreaker, countWindow } from '@resilience/core';
import { CountBreaker, circuitBreaker as cockatielBreaker, handleAll } from 'cockatiel';
import Opossum from 'opossum';
import { checkTarget, retainedBytesPerItem, type SuiteOptions } from '../harness.js';

// Memory of many breakers: a service with one breaker per upstream host, tenant or model
// may hold thousands. Target: 10 000 breakers with countWindow({ size: 100 }) retain
// ≤ 2 KB each. Each figure counts the JS heap plus array-buffer backing stores (V8 keeps
// larger typed arrays outside the heap, where a heap-only measure would miss them).

const TARGET_BYTES = 2_048;

const ours = (i: number, registry = true) =>
  circuitBreaker({
    name: `upstream-${i}`,
    strategy: countWindow({ size: 100, failureRate: 0.5, minimumCalls: 20 }),
    halfOpenAfter: 30_000,
    ...(registry ? {} : { registry: false as const }),
  });

/** A breaker that has seen a full window of outcomes (every slot of its ring written). */
async function filled(breakers: ReturnType<typeof ours>[]) {
  const fail = () => Promise.reject(new Error('down'));
  for (const b of breakers) {
    for (let j = 0; j < 100; j++) await b.execute(j % 4 === 0 ? fail : () => j).catch(() => undefined);
  }
}

export default async function breakerMemory(opts: SuiteOptions) {
  const count = opts.quick ? 500 : 10_000;
  const rows: Array<{ breaker: string; count: number; bytes: number }> = [];
  const measure = (name: string, n: number, make: (i: number) => unknown) => {
    rows.push({ breaker: name, count: n, bytes: retainedBytesPerItem(n, make) });
  };

  measure('ours countWindow(100), registered', count, (i) => ours(i));
  measure('ours countWindow(100), registry: false', count, (i) => ours(i, false));
  // The same breakers after 100 calls each: the ring is written in place, so nothing grows.
  const gc = (globalThis as { gc?: () => void }).gc!;
  const warm = Array.from({ length: count }, (_, i) => ours(i));
  gc();
  const before = process.memoryUsage();
  await filled(warm);
  gc();
  gc();
  const after = process.memoryUsage();
  const growth = (after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers) / count;
  measure('cockatiel CountBreaker(100)', count, () =>
    cockatielBreaker(handleAll, {
      halfOpenAfter: 30_000,
      breaker: new CountBreaker({ threshold: 0.5, size: 100, minimumNumberOfCalls: 20 }),
    }),
  );
  // opossum keeps a rolling-stats interval per breaker; fewer instances, then shut down.
  const opossumCount = Math.min(count, 2_000);
  const opossums: Opossum[] = [];
  measure('opossum (rolling window, 10 buckets)', opossumCount, () => {
    const b = new Opossum(async () => 1, { resetTimeout: 30_000, errorThresholdPercentage: 50, volumeThreshold: 20 });
    opossums.push(b);
    return b;
  });
  for (const b of opossums) b.shutdown();

  console.log(`\n## Breaker memory${opts.quick ? ' (quick mode: figures not meaningful)' : ''}`);
  console.table(rows.map((r) => ({ ...r, bytes: Math.round(r.bytes) })));
  console.log(`ours after 100 calls each: ${growth.toFixed(0)} bytes more per breaker`);
  const main = rows[0]!.bytes;
  checkTarget('ours countWindow(100) retained', main, TARGET_BYTES, opts, { unit: 'B' });
  if (warm.length !== count) throw new Error('unreachable');
}
