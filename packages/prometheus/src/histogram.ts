import { Histogram, type HistogramConfiguration } from 'prom-client';

type Values = Awaited<ReturnType<Histogram['get']>>;

/** One label set's counts: per bucket (not cumulative), sum and count. */
interface Series {
  readonly labels: Record<string, string>;
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

/**
 * A prom-client histogram fed once per recorded call, at the cost of a bucket search and
 * three additions: {@link CallHistogram.series} gives a label set's recorder, and the scrape
 * reads the counts as prom-client's own histogram would show them (cumulative buckets,
 * `+Inf`, `_sum`, `_count`), without prom-client's per-observation label hashing and checks.
 */
export class CallHistogram extends Histogram<string> {
  readonly #meta: { name: string; help: string };
  readonly #bounds: readonly number[];
  readonly #series: Series[] = [];

  constructor(config: HistogramConfiguration<string> & { buckets: number[] }) {
    super(config);
    this.#meta = { name: config.name, help: config.help };
    this.#bounds = [...config.buckets];
  }

  /** The recorder of one label set (seconds); the series shows in scrapes from now on, at 0 until it counts. */
  series(labels: Record<string, string>): (seconds: number) => void {
    const series: Series = { labels, buckets: new Float64Array(this.#bounds.length), sum: 0, count: 0 };
    this.#series.push(series);
    const bounds = this.#bounds;
    return (seconds) => {
      let i = 0;
      while (i < bounds.length && seconds > bounds[i]!) i++;
      if (i < bounds.length) series.buckets[i]! += 1;
      series.sum += seconds;
      series.count += 1;
    };
  }

  /**
   * Zeroes every series (`registry.resetMetrics()`) and keeps it in scrapes, at 0: prom-client's
   * own histogram would drop it until its next observation, which reads as a series gone, then
   * back from 1 (an increase `rate()` misses). Its recorders keep counting into it.
   */
  override reset(): void {
    super.reset();
    if (!(#series in this)) return; // prom-client's constructor resets before ours has run
    for (const s of this.#series) {
      s.buckets.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }

  /** What the registry formats: each value's own labels (`le`) and the series' labels apart, as prom-client's histogram gives them. */
  async getForPromString(): Promise<Values> {
    const { name, help } = this.#meta;
    const values: Array<Values['values'][number] & { exemplar?: null; sharedLabels: Record<string, string> }> = [];
    for (const s of this.#series) {
      const sharedLabels = s.labels;
      let cumulative = 0;
      this.#bounds.forEach((le, i) => {
        cumulative += s.buckets[i]!;
        values.push({ value: cumulative, metricName: `${name}_bucket`, exemplar: null, labels: { le }, sharedLabels });
      });
      values.push({
        value: s.count,
        metricName: `${name}_bucket`,
        exemplar: null,
        labels: { le: '+Inf' },
        sharedLabels,
      });
      values.push({ value: s.sum, metricName: `${name}_sum`, labels: {}, sharedLabels });
      values.push({ value: s.count, metricName: `${name}_count`, labels: {}, sharedLabels });
    }
    // prom-client declares the type as a numeric enum, but formats the string it holds at run time.
    const type = 'histogram' as unknown as Values['type'];
    // Keys in prom-client's order, so JSON output reads the same.
    return { name, help, type, values, aggregator: (this as unknown as Values).aggregator, collect: () => {} };
  }

  /** The values with every label on each, as prom-client's `get()` gives them. */
  override async get(): Promise<Values> {
    const data = await this.getForPromString();
    const values = data.values.map((v) => {
      const { sharedLabels, labels, ...rest } = v as typeof v & { sharedLabels: Record<string, string> };
      return { ...rest, labels: { ...labels, ...sharedLabels } };
    });
    return { ...data, values };
  }
}
