import type { MetricsSnapshot } from '@resilience/core';
import { countOf } from './count.js';
import type { SnapshotSource } from './options.js';

/** A collector's counts: `metric suffix \0 label value` ('' for none) to its lifetime count. */
export type Counts = Map<string, number>;

const add = (into: Counts, key: string, n: number) => into.set(key, (into.get(key) ?? 0) + n);

/** Where a snapshot keeps each count the exporter serves, by metric suffix, as a record by label value. */
const COUNTS: ReadonlyArray<readonly [string, (s: MetricsSnapshot) => Record<string, unknown>]> = [
  ['calls_total', ({ lifetime }) => ({ ok: lifetime.ok, failed: lifetime.failed })],
  ['attempts_total', (s) => ({ '': s.lifetime.attempts })],
  ['retries_total', (s) => ({ '': s.lifetime.retries })],
  ['timeouts_total', (s) => ({ '': s.lifetime.timeouts })],
  ['transaction_commits_total', (s) => ({ '': s.lifetime.commits })],
  ['messages_dead_lettered_total', (s) => s.lifetime.deadLetters],
  ['transaction_rollbacks_total', (s) => s.lifetime.rollbacks],
  ['circuit_breaker_opens_total', (s) => s.lifetime.breakerOpens],
  ['rejections_total', (s) => s.lifetime.rejections],
  ['summary_sum', (s) => ({ '': s.lifetime.latencySumMs / 1_000 })],
  ['summary_count', (s) => ({ '': s.lifetime.calls })],
];

/**
 * The counts of a snapshot, leaving out what is no count (and a whole record, when reading it
 * throws); breaker names go through `breakerName` (names that map to one are summed). `unread`
 * holds the keys left out so, and the metrics whose record threw: a key in neither was not in
 * its record at all (a reason or breaker name a `reset()` forgot).
 */
function countsOf(s: MetricsSnapshot, breakerName: (name: string) => string, unread: Set<string>): Counts {
  const counts: Counts = new Map();
  for (const [metric, read] of COUNTS) {
    const opens = metric === 'circuit_breaker_opens_total';
    try {
      for (const [value, n] of Object.entries(read(s))) {
        const key = `${metric}\0${opens ? breakerName(value) : value}`;
        const count = countOf(() => n);
        if (count === undefined) unread.add(key);
        else add(counts, key, count);
      }
    } catch {
      unread.add(metric); // No record: none of its series in this scrape.
    }
  }
  return counts;
}

/** One exported name at a scrape: its counts, and the snapshot its quantiles come from (one collector only). */
export interface Tallied {
  readonly name: string;
  readonly counts: Counts;
  readonly snapshot: MetricsSnapshot | undefined;
}

/**
 * Keeps every exported count from going back. A collector is followed by the name it is given
 * (a host): when it leaves the list (an evicted host), is replaced under its name (a host
 * evicted and met again), or reads any count less than before or fewer calls than it reported
 * through `onCall` since (`reset()`), the counts it had reached are all carried into its
 * exported name, so the series continues from there instead
 * of restarting at 0. What a collector counted after the last scrape before it left is lost
 * (it cannot be read any more): counts may fall short, never back. Memory: the collectors
 * listed now, plus one carry per exported name (which `exported` bounds), each with at most one
 * count per series (breaker names bounded by `breakerName`: each collector keeps 32, but
 * collectors that come and go, one per host, each name their own breaker).
 */
export class Tally {
  /** Each collector listed at the last scrape, by given name: what it was, its exported name, its counts. */
  readonly #live = new Map<
    string,
    { source: SnapshotSource; name: string; last: Counts; heard?: number | undefined }
  >();
  /** Per exported name, the counts of the collectors that left it. */
  readonly #carried = new Map<string, Counts>();
  readonly #exported: (given: string) => string;
  readonly #breakerName: (name: string) => string;
  readonly #heard: (source: SnapshotSource) => number | undefined;

  /** `heard`: the calls a collector has reported through `onCall` so far, if it is subscribed to. */
  constructor(
    exported: (given: string) => string,
    breakerName: (name: string) => string,
    heard: (source: SnapshotSource) => number | undefined,
  ) {
    this.#exported = exported;
    this.#breakerName = breakerName;
    this.#heard = heard;
  }

  /** The counts carried into exported name `name`, made on first use. */
  #carriedOf(name: string): Counts {
    let carried = this.#carried.get(name);
    if (carried === undefined) this.#carried.set(name, (carried = new Map()));
    return carried;
  }

  #carry(name: string, counts: Counts): void {
    const carried = this.#carriedOf(name);
    for (const [key, n] of counts) add(carried, key, n);
  }

  /**
   * Reads the collectors listed (by given name) and returns each exported name's counts: what
   * its collectors count now plus what it carries. A count is served when one of the name's
   * collectors read it now, or it is carried and the name's collectors read (or it has none
   * left); a collector whose `snapshot()` throws counts its last reading, and alone leaves its
   * name out.
   */
  read(listed: Iterable<readonly [string, SnapshotSource]>): Tallied[] {
    const live = this.#live;
    const present = new Map<string, { keys: Set<string>; sources: number; snapshot: MetricsSnapshot | undefined }>();
    const seen = new Set<string>();
    for (const [given, source] of listed) {
      if (seen.has(given)) continue;
      seen.add(given);
      const name = this.#exported(given);
      let entry = live.get(given);
      if (entry !== undefined && entry.source !== source) {
        this.#carry(entry.name, entry.last);
        entry = undefined;
      }
      if (entry === undefined) live.set(given, (entry = { source, name, last: new Map() }));
      let at = present.get(name);
      if (at === undefined) present.set(name, (at = { keys: new Set(), sources: 0, snapshot: undefined }));
      at.sources++;
      let snapshot: MetricsSnapshot;
      try {
        snapshot = source.snapshot();
      } catch {
        continue; // Left out of this scrape; its last reading still counts towards its name.
      }
      at.snapshot = at.sources === 1 ? snapshot : undefined;
      const unread = new Set<string>();
      const counts = countsOf(snapshot, this.#breakerName, unread);
      // Lifetime counts only grow until `reset()` zeroes them all: one lower than before (or gone
      // from a record read whole) means a reset, and every count reached before it is carried,
      // those the new counts have already caught up with too. So does a call count short of the
      // calls the collector reported since (onCall): a reset after which every count caught up.
      const heard = this.#heard(source);
      const calls = counts.get('summary_count\0');
      const before = entry.heard;
      entry.heard = heard;
      const lost =
        heard !== undefined &&
        before !== undefined &&
        calls !== undefined &&
        calls < (entry.last.get('summary_count\0') ?? 0) + heard - before;
      const reset =
        lost ||
        [...entry.last].some(
          ([key, was]) =>
            (counts.get(key) ?? (unread.has(key) || unread.has(key.slice(0, key.indexOf('\0'))) ? was : 0)) < was,
        );
      if (reset) {
        this.#carry(entry.name, entry.last);
        entry.last.clear();
      }
      for (const [key, n] of counts) {
        entry.last.set(key, n);
        at.keys.add(key);
      }
    }
    for (const [given, entry] of live) {
      if (seen.has(given)) continue;
      live.delete(given);
      this.#carry(entry.name, entry.last);
    }
    // Carried counts keep their series, at the count they reached: under a name with no collector
    // left, and under one whose collectors read now (a new collector that has not yet counted a
    // reason its predecessor had). A name whose every collector threw stays out of the scrape.
    for (const [name, carried] of this.#carried) {
      const at = present.get(name);
      if (at === undefined) present.set(name, { keys: new Set(carried.keys()), sources: 0, snapshot: undefined });
      else if (at.keys.size > 0) for (const key of carried.keys()) at.keys.add(key);
    }
    const sums = new Map<string, Counts>();
    for (const [name, { keys }] of present) {
      const counts: Counts = new Map();
      const carried = this.#carried.get(name);
      for (const key of keys) counts.set(key, carried?.get(key) ?? 0);
      sums.set(name, counts);
    }
    for (const { name, last } of live.values()) {
      const counts = sums.get(name)!;
      for (const [key, n] of last) if (counts.has(key)) add(counts, key, n);
    }
    return [...present].map(([name, { snapshot, sources }]) => ({
      name,
      counts: sums.get(name)!,
      snapshot: sources === 1 ? snapshot : undefined,
    }));
  }
}
