import { type Clock, type Random, systemClock, systemRandom } from '../clock/clock.js';
import { SagaError } from '../errors/errors.js';
import { Emitter } from '../events/emitter.js';
import { isAbortSignal, neverAborted, type Policy } from '../policy/policy.js';
import { backoff } from '../retry/backoff.js';
import { retry } from '../retry/retry.js';
import type { JsonValue } from '../store/store.js';
import {
  type LoggedStepState,
  type SagaLogInput,
  type SagaLogOp,
  type SagaLogState,
  sagaClaimTransition,
  sagaLogTransition,
} from './log.js';
import {
  type ResolvedSagaOptions,
  resolveSagaOptions,
  SAGA_DEFAULTS,
  type SagaOptions,
  type SagaStep,
  stepProblems,
} from './options.js';
import type { SagaEvent, SagaReport, SagaStatus, SagaStepReport } from './report.js';

/** Logged step states a recovery compensates (again): whatever may have left an effect. */
const TO_COMPENSATE: ReadonlySet<LoggedStepState> = new Set([
  'started',
  'completed',
  'compensating',
  'compensation_failed',
]);

export interface SagaExecuteOptions {
  /** Cancels the saga: no further step starts, and what ran is compensated. */
  signal?: AbortSignal;
  /** The execution's id (in the log and the report). @default a random id */
  id?: string;
}

/** One execution in progress: what the step loop and the compensation share. */
interface Run<I> {
  readonly id: string;
  /** Who writes the log: this execution, or the recovery that took it over. */
  readonly owner: string;
  readonly input: I;
  readonly results: Record<string, unknown>;
  readonly reports: SagaStepReport[];
  readonly startedAt: number;
  readonly recovered: boolean;
}

/**
 * A saga: steps run in order; when one fails (or the caller cancels), the completed steps
 * are compensated in reverse order. See {@link saga}.
 */
export class Saga<I = unknown> {
  readonly name: string;
  readonly #steps: SagaStep<I>[] = [];
  readonly #names = new Set<string>();
  readonly #opts: ResolvedSagaOptions;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #compensationRetry: Policy;
  readonly #events = new Emitter<SagaEvent>();
  readonly #log: ReturnType<typeof sagaLogTransition>;
  readonly #claim: ReturnType<typeof sagaClaimTransition>;
  #sequence = 0;

  /** Every audit event of this saga's executions and recoveries. */
  readonly onEvent = this.#events.subscribe;

  constructor(name: string, options: SagaOptions = {}) {
    this.#opts = resolveSagaOptions(name, options);
    this.name = name;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? systemRandom;
    this.#compensationRetry =
      this.#opts.compensationRetry ??
      retry({
        maxAttempts: SAGA_DEFAULTS.compensationMaxAttempts,
        handle: () => true,
        backoff: backoff.exponential({ initialMs: 100, multiplier: 2, maxMs: 5_000 }),
        clock: this.#clock,
        random: this.#random,
        name: `${name}:compensation`,
      });
    this.#log = sagaLogTransition(this.#opts.logTtlMs);
    this.#claim = sagaClaimTransition(this.#opts.logTtlMs);
  }

  /** Adds a step. Throws `SagaError` on a malformed step (an unknown key included) or a duplicate name. */
  step(step: SagaStep<I>): this {
    const problems = stepProblems(step);
    if (problems.length > 0) throw new SagaError(`Saga "${this.name}": invalid step: ${problems.join('; ')}`);
    if (this.#names.has(step.name)) throw new SagaError(`Saga "${this.name}": duplicate step name "${step.name}"`);
    this.#names.add(step.name);
    this.#steps.push(step);
    return this;
  }

  /** Names of the steps, in order. */
  get steps(): readonly string[] {
    return this.#steps.map((s) => s.name);
  }

  /**
   * Runs the steps and resolves with the report, whatever the steps did. Rejects only on
   * misuse (`SagaError`: no steps, a bad id, options that are not an object, a signal that
   * is not an AbortSignal).
   */
  async execute(input: I, options: SagaExecuteOptions = {}): Promise<SagaReport> {
    if (this.#steps.length === 0) throw new SagaError(`Saga "${this.name}" has no steps`);
    if (typeof options !== 'object' || options === null) {
      throw new SagaError(`Saga "${this.name}": execute options must be an object ({ id, signal })`);
    }
    if (options.signal !== undefined && !isAbortSignal(options.signal)) {
      throw new SagaError(`Saga "${this.name}": signal must be an AbortSignal`);
    }
    if (options.id !== undefined && (typeof options.id !== 'string' || options.id.length === 0)) {
      throw new SagaError(`Saga "${this.name}": id must be a non-empty string`);
    }
    const signal = options.signal ?? neverAborted;
    const durable = this.#opts.store !== undefined;
    const id = options.id ?? this.#newId();
    const run: Run<I> = {
      id,
      owner: durable ? `${id}:${this.#random().toString(36).slice(2)}` : '',
      input,
      results: {},
      reports: this.#steps.map((s) => ({ name: s.name, status: 'not_run' })),
      startedAt: this.#clock.now(),
      recovered: false,
    };
    let failedStep: string | undefined;
    let error: unknown;
    let cancelled = false;
    let takenOver = false;
    try {
      if (durable) await this.#write(run, { op: 'start', id: run.id, input: input as JsonValue });
    } catch (logError) {
      return this.#finish(run, 'compensated', this.#steps[0]?.name, logError);
    }
    for (let index = 0; index < this.#steps.length; index++) {
      const step = this.#steps[index]!;
      const report = run.reports[index]!;
      if (signal.aborted) {
        cancelled = true;
        error = signal.reason;
        break;
      }
      const startedAt = this.#clock.now();
      try {
        if (durable && !(await this.#write(run, { op: 'step', index, name: step.name, s: 'started' }))) {
          takenOver = true;
          break;
        }
      } catch (logError) {
        failedStep = step.name;
        error = logError;
        break;
      }
      this.#emit(() => ({ type: 'step_started', saga: this.name, id: run.id, step: step.name, at: startedAt }));
      let result: unknown;
      try {
        const call = (attempt: number, stepSignal: AbortSignal) =>
          step.run({ input, results: run.results, signal: stepSignal, attempt, sagaId: run.id });
        result = await (step.retry
          ? step.retry.execute((ctx) => call(ctx.attempt, ctx.signal), options.signal)
          : call(1, signal));
      } catch (stepError) {
        report.status = 'failed';
        report.error = stepError;
        report.run = this.#timing(startedAt);
        failedStep = step.name;
        error = stepError;
        cancelled = signal.aborted;
        await this.#writeQuietly(run, { op: 'step', index, name: step.name, s: 'failed' });
        this.#emit(() => ({
          type: 'step_failed',
          saga: this.name,
          id: run.id,
          step: step.name,
          at: this.#clock.now(),
          error: stepError,
        }));
        break;
      }
      run.results[step.name] = result;
      report.status = 'completed';
      report.run = this.#timing(startedAt);
      this.#emit(() => ({
        type: 'step_completed',
        saga: this.name,
        id: run.id,
        step: step.name,
        at: this.#clock.now(),
      }));
      try {
        const logged = result === undefined ? {} : { r: result as JsonValue };
        if (durable && !(await this.#write(run, { op: 'step', index, name: step.name, s: 'completed', ...logged }))) {
          takenOver = true;
          break;
        }
      } catch (logError) {
        // The step ran but the log does not say so: undo it with the others.
        failedStep = step.name;
        error = logError;
        break;
      }
    }
    if (takenOver) {
      const error = new SagaError(
        `Saga "${this.name}" execution ${run.id} was taken over by recover(), which compensates it`,
      );
      return this.#finish(run, 'cancelled', undefined, error);
    }
    if (failedStep === undefined && !cancelled) {
      if (durable) await this.#writeQuietly(run, { op: 'finish' });
      return this.#finish(run, 'completed', undefined, undefined);
    }
    const ok = await this.#compensate(
      run,
      run.reports.map((r) => (r.status === 'completed' ? r : undefined)),
    );
    const status: SagaStatus = !ok ? 'compensation_failed' : cancelled ? 'cancelled' : 'compensated';
    await this.#writeQuietly(run, ok ? { op: 'finish' } : { op: 'phase', phase: 'failed' });
    return this.#finish(run, status, failedStep, error);
  }

  /**
   * Finishes the sagas a crashed process left half done: takes over every log of this
   * saga untouched for `recoverAfterMs` (at most `maxRecoverPerCall`), compensates its
   * completed and interrupted steps in reverse order, and resolves with one report each.
   * A log whose every step completed is closed as `completed`. Needs a `store`.
   */
  async recover(): Promise<SagaReport[]> {
    const store = this.#opts.store;
    if (!store) throw new SagaError(`Saga "${this.name}": recover() needs a store`);
    const now = this.#clock.now();
    const keys = await store.keys(this.#opts.keyPrefix, now, { limit: this.#opts.maxRecoverPerCall });
    const owner = `recover:${this.#random().toString(36).slice(2)}`;
    const reports: SagaReport[] = [];
    for (const key of keys) {
      const log = await store.apply(key, this.#claim, { owner, staleBefore: now - this.#opts.recoverAfterMs }, now);
      if (log) reports.push(await this.#recoverOne(log));
    }
    return reports;
  }

  async #recoverOne(log: SagaLogState): Promise<SagaReport> {
    const run: Run<I> = {
      id: log.id,
      owner: log.owner,
      input: log.input as I,
      results: {},
      reports: [],
      startedAt: log.startedAt,
      recovered: true,
    };
    const pending: (SagaStepReport | undefined)[] = [];
    for (const entry of log.steps) {
      if (entry.s === 'completed') run.results[entry.name] = entry.r;
      const report: SagaStepReport = {
        name: entry.name,
        status: entry.s === 'compensated' ? 'compensated' : 'completed',
      };
      if (entry.s === 'not_compensable' || entry.s === 'failed') report.status = entry.s;
      if (entry.s === 'started') report.interrupted = true;
      run.reports.push(report);
      pending.push(TO_COMPENSATE.has(entry.s) ? report : undefined);
    }
    const allDone = log.steps.length === this.#steps.length && log.steps.every((s) => s.s === 'completed');
    if (allDone) {
      await this.#writeQuietly(run, { op: 'finish' });
      return this.#finish(run, 'completed', undefined, undefined);
    }
    for (const step of this.#steps.slice(log.steps.length)) run.reports.push({ name: step.name, status: 'not_run' });
    const ok = await this.#compensate(
      run,
      pending,
      log.steps.map((s) => s.r),
    );
    await this.#writeQuietly(run, ok ? { op: 'finish' } : { op: 'phase', phase: 'failed' });
    return this.#finish(run, ok ? 'compensated' : 'compensation_failed', undefined, undefined);
  }

  /** Compensates the given steps in reverse order; false when any compensation failed for good. */
  async #compensate(run: Run<I>, pending: readonly (SagaStepReport | undefined)[], logged?: readonly unknown[]) {
    let ok = true;
    if (pending.some((p) => p !== undefined)) await this.#writeQuietly(run, { op: 'phase', phase: 'compensating' });
    for (let index = pending.length - 1; index >= 0; index--) {
      const report = pending[index];
      if (!report) continue;
      const step = this.#steps.find((s) => s.name === report.name);
      const at = this.#clock.now();
      if (step && !step.compensate) {
        report.status = 'not_compensable';
        await this.#writeQuietly(run, { op: 'step', index, name: report.name, s: 'not_compensable' });
        this.#emit(() => ({ type: 'compensation_skipped', saga: this.name, id: run.id, step: report.name, at }));
        continue;
      }
      await this.#writeQuietly(run, { op: 'step', index, name: report.name, s: 'compensating' });
      this.#emit(() => ({ type: 'compensation_started', saga: this.name, id: run.id, step: report.name, at }));
      const result = report.interrupted ? undefined : logged ? logged[index] : run.results[report.name];
      try {
        if (!step?.compensate) throw new SagaError(`Saga "${this.name}" has no step "${report.name}" to compensate`);
        const compensate = step.compensate.bind(step);
        await (step.compensationRetry ?? this.#compensationRetry).execute(({ attempt }) =>
          compensate({ input: run.input, results: run.results, signal: neverAborted, attempt, sagaId: run.id }, result),
        );
        report.status = 'compensated';
        report.compensation = this.#timing(at);
        await this.#writeQuietly(run, { op: 'step', index, name: report.name, s: 'compensated' });
        this.#emit(() => ({
          type: 'compensation_completed',
          saga: this.name,
          id: run.id,
          step: report.name,
          at: this.#clock.now(),
        }));
      } catch (error) {
        ok = false;
        report.status = 'compensation_failed';
        report.error = error;
        report.compensation = this.#timing(at);
        await this.#writeQuietly(run, { op: 'step', index, name: report.name, s: 'compensation_failed' });
        this.#emit(() => ({
          type: 'compensation_failed',
          saga: this.name,
          id: run.id,
          step: report.name,
          at: this.#clock.now(),
          error,
        }));
      }
    }
    return ok;
  }

  #finish(run: Run<I>, status: SagaStatus, failedStep: string | undefined, error: unknown): SagaReport {
    const finishedAt = this.#clock.now();
    this.#emit(() => ({
      type: 'finished',
      saga: this.name,
      id: run.id,
      at: finishedAt,
      status,
      recovered: run.recovered,
    }));
    return {
      saga: this.name,
      id: run.id,
      status,
      steps: run.reports,
      results: run.results,
      ...(failedStep === undefined ? {} : { failedStep }),
      ...(error === undefined ? {} : { error }),
      recovered: run.recovered,
      startedAt: run.startedAt,
      finishedAt,
      durationMs: finishedAt - run.startedAt,
    };
  }

  /** Writes one log event; resolves `false` when another owner (a recovery) holds the log. */
  async #write(run: Run<I>, op: SagaLogOp): Promise<boolean> {
    const store = this.#opts.store;
    if (!store) return true;
    const input = { ...op, owner: run.owner } as SagaLogInput;
    return store.apply(this.#opts.keyPrefix + run.id, this.#log, input, this.#clock.now());
  }

  /** Log writes during compensation never stop it; a failure is reported as an event. */
  async #writeQuietly(run: Run<I>, op: SagaLogOp): Promise<void> {
    if (!this.#opts.store) return;
    try {
      await this.#write(run, op);
    } catch (error) {
      this.#emit(() => ({ type: 'log_failed', saga: this.name, id: run.id, at: this.#clock.now(), error }));
    }
  }

  #timing(startedAt: number) {
    const finishedAt = this.#clock.now();
    return { startedAt, finishedAt, durationMs: finishedAt - startedAt };
  }

  #emit(build: () => SagaEvent): void {
    if (this.#events.hasListeners) this.#events.emit(build());
  }

  #newId(): string {
    const random = Math.floor(this.#random() * 2 ** 32).toString(36);
    return `${this.#clock.now().toString(36)}-${(this.#sequence++).toString(36)}-${random}`;
  }
}

/**
 * A saga named `name`. Add steps with `.step({ name, run, compensate })`, then
 * `execute(input)`.
 *
 * @example
 * const checkout = saga<{ orderId: string }>('checkout')
 *   .step({ name: 'reserve', run: ({ input }) => stock.reserve(input.orderId), compensate: ({ input }) => stock.release(input.orderId) })
 *   .step({ name: 'charge', run: ({ input }) => payments.charge(input.orderId), compensate: (_, charge) => payments.refund(charge) });
 * const report = await checkout.execute({ orderId: 'o-1' });
 */
export function saga<I = unknown>(name: string, options: SagaOptions = {}): Saga<I> {
  return new Saga<I>(name, options);
}
