import { type Clock, systemClock, type TimerHandle } from '../clock/clock.js';
import { messageOf, TimeoutError } from '../errors/errors.js';
import { errorName } from '../metrics/window.js';
import {
  HEALTH_DEFAULTS,
  type HealthCheck,
  type HealthCheckDetail,
  type HealthCheckKind,
  type HealthCheckOptions,
  type HealthCheckStatus,
  type HealthOptions,
  type HealthStartOptions,
  type HealthStatus,
  KINDS,
  type ResolvedHealthCheckOptions,
  resolveHealthCheckOptions,
  resolveHealthStartOptions,
  validateHealthOptions,
} from './options.js';

/**
 * One check's result in a {@link HealthReport}: exactly `{ status, durationMs, error?,
 * consecutiveFailures }` (the shape DESIGN.md pins), plus the detail fields only when the
 * check returned a detail or was registered with a `componentId` / `componentType`.
 */
export interface HealthCheckResult {
  status: HealthCheckStatus;
  /** How long the check took (up to its `timeoutMs`). */
  durationMs: number;
  /** Why the check failed: the error's message, `'check returned false'` or the timeout. */
  error?: string;
  /** Failures in a row, this one included; 0 after a pass or a warning. */
  consecutiveFailures: number;
  observedValue?: unknown;
  observedUnit?: string;
  output?: string;
  componentId?: string;
  componentType?: string;
}

/** What {@link HealthRegistry.run} resolves with. */
/** Frozen, with its results: a cached report is shared by every caller until it expires. */
export interface HealthReport {
  readonly status: HealthStatus;
  /** Whether the service can serve: `false` only when `unhealthy` (as the HTTP status is 503 only then). */
  readonly healthy: boolean;
  /** Names of the checks whose result is `fail`, down or not yet, in registration order. */
  readonly failed: readonly string[];
  readonly checks: Readonly<Record<string, HealthCheckResult>>;
}

interface Entry {
  readonly check: HealthCheck;
  readonly options: ResolvedHealthCheckOptions;
  consecutiveFailures: number;
  running: Promise<HealthCheckResult> | undefined;
  /**
   * The runs waiting on the check's call, until it settles: one that outlived its timeout is
   * joined, never made twice. Each leaves at its timeout, so a call that never settles holds
   * none (a reaction per run on its promise would stay for good).
   */
  waiting?: Set<(outcome: Outcome) => void> | undefined;
  /** The result of its last run. */
  last: HealthCheckResult | undefined;
}

/** The timer of one `start()`; a round of an older schedule sets no timer. */
interface Schedule {
  timer: TimerHandle | undefined;
}

interface Outcome {
  status: HealthCheckStatus;
  error?: string;
  detail?: HealthCheckDetail;
}

const STATUSES = new Set<unknown>(['pass', 'warn', 'fail']);

// Its message, else its name (`errorName`); never throws (a thrown Object.create(null) has no string form).
const described = (error: unknown): string => messageOf(error) || errorName(error);

function interpret(value: unknown): Outcome {
  if (value === false) return { status: 'fail', error: 'check returned false' };
  // An error returned, not thrown (`() => db.ping().catch((e) => e)`): the check failed.
  if (value instanceof Error) return failed(value);
  if (value === 'warn') return { status: 'warn' };
  if (typeof value !== 'object' || value === null) return { status: 'pass' };
  const detail = value as HealthCheckDetail;
  // A status of another vocabulary ('down', 'FAIL') fails: read as pass, an outage would look healthy.
  const status = detail.status === undefined ? 'pass' : STATUSES.has(detail.status) ? detail.status : 'fail';
  return status === 'fail'
    ? { status, error: detail.output ?? `check reported ${detail.status}`, detail }
    : { status, detail };
}

const failed = (error: unknown): Outcome => ({ status: 'fail', error: described(error) });

/**
 * Health checks for a service. Checks run concurrently, each under its own timeout; the
 * registry keeps, per check, only its consecutive-failure count and the run in flight, so
 * memory grows with the number of registered checks and nothing else.
 */
export class HealthRegistry {
  readonly #clock: Clock;
  readonly #cacheMs: number;
  readonly #entries = new Map<string, Entry>();
  /** At most three entries: all checks, liveness, readiness. */
  readonly #cache = new Map<string, HealthReport>();
  /** When each report `run()` built was taken, on the clock (only when caching): see {@link maxAgeMs}. */
  readonly #takenAt = new WeakMap<HealthReport, number>();
  /** When each check result was read, and a started registry's report its oldest: see {@link ageMs}. */
  readonly #readAt = new WeakMap<object, number>();
  /** Bumped when checks are added or removed: a run that started before must not be cached. */
  #generation = 0;
  /** Set while `start()` runs the checks on the clock. */
  #schedule: Schedule | undefined;

  constructor(options: HealthOptions = {}) {
    validateHealthOptions(options);
    this.#clock = options.clock ?? systemClock;
    this.#cacheMs = options.cacheMs ?? HEALTH_DEFAULTS.cacheMs;
  }

  /** How long a result is reused; what a report has left of it is {@link maxAgeMs}. */
  get cacheMs(): number {
    return this.#cacheMs;
  }

  /** What `report` has left of `cacheMs`, in ms (never below 0): pass it to `healthResponse`. */
  maxAgeMs(report: HealthReport): number {
    const at = this.#takenAt.get(report);
    const age = at === undefined ? -1 : this.#clock.now() - at;
    return age < 0 ? 0 : Math.max(0, this.#cacheMs - age); // a clock stepped back: expired
  }

  /** The age of `report`'s oldest reading, in ms (0 for one just run). */
  ageMs(report: HealthReport): number {
    const now = this.#clock.now();
    return Math.max(0, now - (this.#readAt.get(report) ?? this.#takenAt.get(report) ?? now));
  }

  /** Names of the registered checks, in registration order. */
  get names(): string[] {
    return [...this.#entries.keys()];
  }

  /** Adds a check; throws `ConfigurationError` for a bad option or a name already taken. */
  register(name: string, check: HealthCheck, options: HealthCheckOptions = {}): this {
    const resolved = resolveHealthCheckOptions(name, check, options, this.#entries.has(name));
    const entry: Entry = { check, options: resolved, consecutiveFailures: 0, running: undefined, last: undefined };
    this.#entries.set(name, entry);
    this.#changed();
    // On a schedule, a new check runs now, so no request has to run it.
    if (this.#schedule) void this.#start(entry);
    return this;
  }

  /** Removes a check; returns whether it was registered. */
  unregister(name: string): boolean {
    const removed = this.#entries.delete(name);
    if (removed) this.#changed();
    return removed;
  }

  #changed(): void {
    this.#generation++;
    this.#cache.clear();
  }

  /**
   * Runs every check (or those of `kind`) and aggregates them (docs/health.md); a result
   * younger than `cacheMs` is reused, a running check joined; after `start()`, the last round's.
   */
  async run(options: { kind?: HealthCheckKind } = {}): Promise<HealthReport> {
    const kind = options?.kind;
    if (kind !== undefined && !KINDS.includes(kind)) {
      throw new TypeError(`health.run: kind: expected 'liveness', 'readiness' or undefined, received ${String(kind)}`);
    }
    const names: string[] = [];
    const entries: Entry[] = [];
    for (const [name, entry] of this.#entries) {
      if (kind !== undefined && entry.options.kind !== kind) continue;
      names.push(name);
      entries.push(entry);
    }
    if (this.#schedule) {
      const results = await Promise.all(entries.map((e) => e.last ?? e.running ?? this.#start(e)));
      const built = this.#taken(report(names, entries, results));
      // As old as its oldest reading: a round's results are not taken when a request reads them.
      this.#readAt.set(built, Math.min(this.#clock.now(), ...results.map((r) => this.#readAt.get(r)!)));
      return built;
    }
    const key = kind ?? 'all';
    const cached = this.#cache.get(key);
    if (cached && this.maxAgeMs(cached) > 0) return cached;
    const generation = this.#generation;
    const result = report(names, entries, await Promise.all(entries.map((e) => e.running ?? this.#start(e))));
    if (this.#cacheMs > 0 && generation === this.#generation) this.#cache.set(key, this.#taken(result));
    return result;
  }

  /** Notes when `result` was taken; without a cache, {@link maxAgeMs} is 0 and needs no time. */
  #taken(result: HealthReport): HealthReport {
    if (this.#cacheMs > 0) this.#takenAt.set(result, this.#clock.now());
    return result;
  }

  /**
   * Runs every check now and then every `intervalMs` (from the end of one round to the start
   * of the next), and makes `run()` serve the last results instead of running checks.
   *
   * @example
   * probes.start({ intervalMs: 30_000 });
   */
  start(options: HealthStartOptions = {}): void {
    const intervalMs = resolveHealthStartOptions(options);
    this.stop();
    const schedule: Schedule = { timer: undefined };
    this.#schedule = schedule;
    const round = async () => {
      await Promise.all([...this.#entries.values()].map((e) => e.running ?? this.#start(e)));
      if (this.#schedule === schedule) {
        schedule.timer = this.#clock.setTimeout(round, intervalMs);
        (schedule.timer as { unref?: () => void }).unref?.(); // a forgotten stop() keeps no process alive
      }
    };
    void round();
  }

  /** Stops the schedule of `start()`: `run()` runs the checks itself again. */
  stop(): void {
    const schedule = this.#schedule;
    this.#schedule = undefined;
    this.#cache.clear(); // taken before the schedule: older than its results
    if (schedule?.timer !== undefined) this.#clock.clearTimeout(schedule.timer);
  }

  #start(entry: Entry): Promise<HealthCheckResult> {
    const running = this.#runCheck(entry).finally(() => {
      entry.running = undefined;
    });
    entry.running = running;
    return running;
  }

  async #runCheck(entry: Entry): Promise<HealthCheckResult> {
    const clock = this.#clock;
    const { timeoutMs } = entry.options;
    const started = clock.now();
    const controller = new AbortController();
    const outcome = await new Promise<Outcome>((resolve) => {
      const done = (o: Outcome) => {
        clock.clearTimeout(timer);
        resolve(o);
      };
      const timer = clock.setTimeout(() => {
        waiting.delete(done);
        controller.abort(new TimeoutError(timeoutMs, `Health check timed out after ${timeoutMs} ms`));
        resolve({ status: 'fail', error: `timed out after ${timeoutMs} ms` });
      }, timeoutMs);
      const joined = entry.waiting;
      const waiting = joined ?? new Set();
      waiting.add(done);
      if (joined) return;
      entry.waiting = waiting;
      const settle = (o: Outcome) => {
        entry.waiting = undefined;
        for (const wait of waiting) wait(o);
      };
      try {
        Promise.resolve(entry.check(controller.signal))
          .then(interpret, failed)
          .then(settle, (error) => settle(failed(error))); // a detail whose getter throws
      } catch (error) {
        settle(failed(error)); // thrown synchronously
      }
    });
    entry.consecutiveFailures = outcome.status === 'fail' ? entry.consecutiveFailures + 1 : 0;
    entry.last = this.#result(entry, outcome, started);
    this.#readAt.set(entry.last, clock.now());
    return entry.last;
  }

  #result(entry: Entry, outcome: Outcome, started: number): HealthCheckResult {
    const { componentId, componentType } = entry.options;
    const result: HealthCheckResult = {
      status: outcome.status,
      durationMs: this.#clock.now() - started,
      consecutiveFailures: entry.consecutiveFailures,
    };
    if (outcome.error !== undefined) result.error = outcome.error;
    const detail = outcome.detail;
    if (detail?.observedValue !== undefined) result.observedValue = detail.observedValue;
    if (detail?.observedUnit !== undefined) result.observedUnit = detail.observedUnit;
    if (detail?.output !== undefined) result.output = detail.output;
    if (componentId !== undefined) result.componentId = componentId;
    if (componentType !== undefined) result.componentType = componentType;
    return Object.freeze(result);
  }
}

/**
 * The CrossStack aggregation of `results` (one per entry, in order): see {@link HealthRegistry.run}.
 */
function report(
  names: readonly string[],
  entries: readonly Entry[],
  results: readonly HealthCheckResult[],
): HealthReport {
  const checks: Record<string, HealthCheckResult> = {};
  const failed: string[] = [];
  let passing = 0;
  let down = 0;
  let criticalDown = false;
  for (let i = 0; i < results.length; i++) {
    const result = results[i]!;
    const { critical, failureThreshold } = entries[i]!.options;
    checks[names[i]!] = result;
    if (result.status === 'pass') passing++;
    else if (result.status === 'fail') {
      failed.push(names[i]!);
      if (result.consecutiveFailures >= failureThreshold) {
        down++;
        criticalDown ||= critical;
      }
    }
  }
  const status: HealthStatus =
    criticalDown || (down > 0 && down === results.length)
      ? 'unhealthy'
      : passing === results.length
        ? 'healthy'
        : 'degraded';
  return Object.freeze({
    status,
    healthy: status !== 'unhealthy',
    failed: Object.freeze(failed),
    checks: Object.freeze(checks),
  });
}

/**
 * A registry of health checks; see {@link HealthRegistry}.
 *
 * @example
 * const probes = health({ cacheMs: 2_000 })
 *   .register('postgres', (signal) => db.ping({ signal }), { componentType: 'datastore' })
 *   .register('event-loop', () => lagMs() < 1_000, { kind: 'liveness' });
 * const report = await probes.run({ kind: 'readiness' });
 */
export function health(options: HealthOptions = {}): HealthRegistry {
  return new HealthRegistry(options);
}
