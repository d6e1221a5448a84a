import type { MetricsSnapshot } from '@resilience/core';
import { Summary, type SummaryConfiguration } from 'prom-client';
import { countOf } from './count.js';
import { PROMETHEUS_DEFAULTS } from './options.js';
import type { Counts } from './tally.js';

type Values = Awaited<ReturnType<Summary['get']>>;

/**
 * Labelled readings of one scrape: the lifetime counts (`summary_sum` and `summary_count`, kept
 * from going back) and the snapshot whose window gives the quantiles, if a single collector's.
 */
export type ScrapedSnapshots = () => ReadonlyArray<
  readonly [Record<string, string>, Counts, MetricsSnapshot | undefined]
>;

/** Where a snapshot keeps each exported quantile. */
const FIELD = { 0.5: 'p50', 0.95: 'p95', 0.99: 'p99' } as const;

/**
 * A prom-client summary whose quantiles are a collector's window quantiles (read from its
 * sketch at scrape time) and whose `_sum` and `_count` are its lifetime latency sum and call
 * count, instead of prom-client's own per-observation digest: the figures `snapshot()` gives.
 */
export class WindowSummary extends Summary<string> {
  readonly #meta: { name: string; help: string };
  readonly #read: ScrapedSnapshots;

  constructor(config: SummaryConfiguration<string>, read: ScrapedSnapshots) {
    super(config);
    this.#meta = { name: config.name, help: config.help };
    this.#read = read;
  }

  override async get(): Promise<Values> {
    const { name, help } = this.#meta;
    const values: Values['values'] = [];
    for (const [labels, counts, s] of this.#read()) {
      // A figure that cannot be read or is no duration (NaN, infinite, negative) is left out.
      const push = (metricName: string | undefined, quantile: number | undefined, read: () => number) => {
        const value = countOf(read);
        if (value === undefined) return;
        const at = quantile === undefined ? labels : { ...labels, quantile };
        values.push(metricName === undefined ? { labels: at, value } : { metricName, labels: at, value });
      };
      // No quantile of an empty window (0 would read as a real latency), nor of several collectors' (`other`).
      for (const q of PROMETHEUS_DEFAULTS.quantiles)
        push(undefined, q, () => (s !== undefined && s.calls > 0 ? s.latency[FIELD[q]] : -1) / 1_000);
      push(`${name}_sum`, undefined, () => counts.get('summary_sum\0') ?? -1);
      push(`${name}_count`, undefined, () => counts.get('summary_count\0') ?? -1);
    }
    // prom-client declares the type as a numeric enum, but formats the string it holds at run time.
    return { name, help, type: 'summary' as unknown as Values['type'], aggregator: 'omit', collect: () => {}, values };
  }
}
