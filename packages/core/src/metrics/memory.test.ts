import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { Clock } from '../clock/clock.js';
import { METRICS_DEFAULTS, type MetricsCollector, metrics } from './index.js';

// The bound the docs give (MetricsCollector, MetricsOptions): under 64 KiB a collector,
// whatever the traffic. The heap and array-buffer growth over many collectors is
// deterministic enough to pin: it depends on the structures kept, not on the machine.

const COLLECTORS = 200;
// Every name is cut to 48 characters, the longest kept; in two-byte text (outside Latin-1: an
// error class or a `key` named in another script), the dearest a name can be.
const long = (name: string) => `${name}-${'ш'.repeat(80)}`;

// One hand-stepped clock shared by every collector, so no clock is counted in their memory.
let now = 0;
const clock: Clock = { now: () => now, sleep: async () => {}, setTimeout: () => 0, clearTimeout: () => {} };

/** A collector with every name map full: distinct error names in every sub-window, every rejection and breaker slot taken. */
function worstCase(k: number, breakers: object[]): MetricsCollector {
  const stats = metrics({ clock });
  const slotMs = METRICS_DEFAULTS.windowMs / METRICS_DEFAULTS.subWindows;
  for (let w = 0; w < METRICS_DEFAULTS.subWindows; w++) {
    now = w * slotMs;
    for (let e = 0; e <= METRICS_DEFAULTS.maxErrorTypes; e++) {
      stats.recordCall({ latencyMs: 1 + e * w, ok: false, error: { name: long(`E${k}-${w}-${e}`) } });
    }
  }
  for (let i = 0; i <= METRICS_DEFAULTS.maxLabels; i++) {
    stats.recordRejection(long(`r${k}-${i}`));
    stats.recordStateChange(long(`b${k}-${i}`), 'open', breakers[i]);
  }
  return stats;
}

describe('metrics: memory', () => {
  it('keeps a collector under the bound docs/metrics.md gives with every name map full', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const used = () => {
      gc();
      gc();
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers; // sketches keep their counts in array buffers, outside the heap
    };
    const breakers = Array.from({ length: METRICS_DEFAULTS.maxLabels + 1 }, () => ({}));
    const kept: MetricsCollector[] = new Array(COLLECTORS);
    worstCase(-1, breakers); // code and shared structures are loaded once, outside the measure
    const before = used();
    for (let k = 0; k < COLLECTORS; k++) kept[k] = worstCase(k, breakers);
    const perCollector = (used() - before) / COLLECTORS;
    expect(kept[0]!.snapshot().errorsByType).toHaveProperty('other');
    const page = readFileSync(new URL('../../../../docs/metrics.md', import.meta.url), 'utf8');
    const stated = /under (\d+) KiB, which a\s+test pins/.exec(page)?.[1];
    expect(stated, 'docs/metrics.md gives a collector a bound').toBeDefined();
    expect(perCollector / 1024).toBeLessThan(Number(stated));
  });
});
