// Lets a report (a log line, an event) through at most once per `everyMs`, counting the ones
// held back in between, so an outage or an overload is told once a minute with its size
// instead of once per request. Time comes from the caller's clock.
export class ReportGate {
  readonly #everyMs: number;
  #reportedAt = Number.NEGATIVE_INFINITY;
  #unreported = 0;

  constructor(everyMs: number) {
    this.#everyMs = everyMs;
  }

  // How many were held back since the last report, when one may go out at `now`; else `undefined` (this one is counted).
  pass(now: number): number | undefined {
    // A clock stepped back (NTP) lets one through, rather than hold reports back for the step.
    if (now >= this.#reportedAt && now - this.#reportedAt < this.#everyMs) {
      this.#unreported++;
      return undefined;
    }
    this.#reportedAt = now;
    const unreported = this.#unreported;
    this.#unreported = 0;
    return unreported;
  }
}
