// Seven numbers, whatever the number of calls: enough for every window to merge them as it
// would have recorded them one by one — a consecutive window from the runs of failures, a
// count window from the four counts (in a fixed order), a time window from the totals.
/**
 * What one instance of a synchronised breaker counted since it last synchronised, merged
 * into the shared window in one store step.
 */
export interface BreakerTally {
  /** Calls that succeeded in time, and that succeeded but were slow (`slowCallMs`). */
  readonly successes: number;
  readonly slowSuccesses: number;
  /** Calls that failed in time, and that failed and were slow. */
  readonly failures: number;
  readonly slowFailures: number;
  /** Failures before the first success (all of them when none succeeded). */
  readonly leading: number;
  /** The longest run of failures in a row. */
  readonly longestRun: number;
  /** Failures after the last success (all of them when none succeeded). */
  readonly trailing: number;
}

/** Counts outcomes into a {@link BreakerTally}; fixed memory, whatever the number of calls. */
export class Tally {
  successes = 0;
  slowSuccesses = 0;
  failures = 0;
  slowFailures = 0;
  leading = 0;
  longestRun = 0;
  trailing = 0;

  get empty(): boolean {
    return this.successes + this.slowSuccesses + this.failures + this.slowFailures === 0;
  }

  record(failed: boolean, slow: boolean): void {
    if (!failed) {
      if (slow) this.slowSuccesses++;
      else this.successes++;
      this.trailing = 0;
      return;
    }
    if (slow) this.slowFailures++;
    else this.failures++;
    if (this.successes + this.slowSuccesses === 0) this.leading++;
    if (++this.trailing > this.longestRun) this.longestRun = this.trailing;
  }

  /** The counts as JSON, or `null` when nothing was counted. */
  snapshot(): BreakerTally | null {
    if (this.empty) return null;
    const { successes, slowSuccesses, failures, slowFailures, leading, longestRun, trailing } = this;
    return { successes, slowSuccesses, failures, slowFailures, leading, longestRun, trailing };
  }

  /** The counts as JSON (`null` when none), and a fresh start. */
  take(): BreakerTally | null {
    const tally = this.snapshot();
    this.successes = this.slowSuccesses = this.failures = this.slowFailures = 0;
    this.leading = this.longestRun = this.trailing = 0;
    return tally;
  }
}
