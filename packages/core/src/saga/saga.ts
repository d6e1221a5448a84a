import { type Clock, type Random, systemClock, systemRandom } from '../clock/clock.js';
import { unknownKey } from '../errors/bag.js';
import { classify } from '../errors/classify.js';
import { SagaError } from '../errors/errors.js';
import { isPlainObject } from '../errors/validate.js';
import { Emitter } from '../events/emitter.js';
import { isAbortSignal, neverAborted, type Policy } from '../policy/policy.js';
import { backoff } from '../retry/backoff.js';
import { retry } from '../retry/retry.js';
import { jsonForm } from '../store/json.js';
import { storeKey } from '../store/namespace.js';
import type { JsonValue } from '../store/store.js';
import { requireSupport } from '../store/supports.js';
import { LogHold } from './hold.js';
import { readSteps, type SagaLogOp, type SagaLogState, sagaClaimTransition, sagaLogTransition } from './log.js';
import {
  type ResolvedSagaOptions,
  resolveSagaOptions,
  SAGA_DEFAULTS,
  type SagaOptions,
  type SagaStep,
  stepProblems,
} from './options.js';
import type { SagaEvent, SagaReport, SagaStatus, SagaStepReport } from './report.js';

export interface SagaExecuteOptions {
  /** Cancels the saga: no further step starts, and what ran is compensated. */
  signal?: AbortSignal;
  /** The execution's id (in the log and the report), 1 to 1 024 characters. @default a random id */
  id?: string;
}

const EXECUTE_OPTION_NAMES = { id: true, signal: true } as const satisfies Record<keyof SagaExecuteOptions, true>;

const uncertainError = (error: unknown): boolean => /^(timeout|network)$/.test(classify(error));

/** One execution in progress: what the step loop and the compensation share. */
interface Run<I> {
  readonly id: string;
  /** Its hold on the durable log (as this execution, or the recovery that took it over); none without a store. */
  readonly log: LogHold | undefined;
  readonly input: I;
  readonly results: Record<string, unknown>;
  readonly reports: SagaStepReport[];
  readonly startedAt: number;
  readonly recovered: boolean;
}

/** A saga: steps run in order; when one fails (or the caller cancels), what ran is compensated in reverse order. */
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
    if (this.#opts.store) requireSupport('saga', this.#opts.store, [this.#log, this.#claim]);
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

  /** Runs the steps and resolves with the report. Rejects only on misuse (`SagaError`: docs/sagas.md). */
  async execute(input: I, options: SagaExecuteOptions = {}): Promise<SagaReport> {
    if (this.#steps.length === 0) throw new SagaError(`Saga "${this.name}" has no steps`);
    if (!isPlainObject(options)) {
      throw new SagaError(`Saga "${this.name}": execute options must be an object ({ id, signal })`);
    }
    // A misspelt `signal` would run the saga uncancellable.
    const unknown = unknownKey(options, EXECUTE_OPTION_NAMES);
    if (unknown !== undefined) {
      throw new SagaError(`Saga "${this.name}": unknown execute option "${unknown}" (the options are id and signal)`);
    }
    if (options.signal !== undefined && !isAbortSignal(options.signal)) {
      throw new SagaError(`Saga "${this.name}": signal must be an AbortSignal`);
    }
    // Held whole in the log (its key and its body): each long one an attacker sends costs its length.
    if (
      options.id !== undefined &&
      !(typeof options.id === 'string' && options.id.length > 0 && options.id.length <= 1_024)
    ) {
      throw new SagaError(`Saga "${this.name}": id must be a string of 1 to 1 024 characters`);
    }
    const signal = options.signal ?? neverAborted;
    const id = options.id ?? this.#newId();
    const now = this.#clock.now();
    const run: Run<I> = {
      id,
      log: this.#hold(id, () => `${id}:${this.#random().toString(36).slice(2)}`, now),
      input,
      results: {},
      reports: this.#steps.map((s) => ({ name: s.name, status: 'not_run' })),
      startedAt: now,
      recovered: false,
    };
    let failedStep: string | undefined;
    let error: unknown;
    let cancelled = false;
    let uncertain = false;
    let started: boolean | undefined;
    try {
      started = await run.log?.write({
        op: 'start',
        id: run.id,
        input: jsonForm(input, `Saga "${this.name}": the input`) as JsonValue,
      });
    } catch (logError) {
      return this.#finish(run, 'compensated', undefined, logError); // no step ran
    }
    if (started === false)
      throw new SagaError(
        `Saga "${this.name}": id "${id}" is in use (running, its log awaiting recover(), or a failed one kept for an operator until logTtlMs)`,
      );
    run.log?.hold();
    // The steps it started with: one that a step adds (re-entrant `step()`) runs from the next execution.
    for (let index = 0; index < run.reports.length; index++) {
      const step = this.#steps[index]!;
      const report = run.reports[index]!;
      if (signal.aborted) {
        cancelled = true;
        error = signal.reason;
        break;
      }
      const startedAt = this.#clock.now();
      try {
        if (run.log && !(await run.log.write({ op: 'step', index, name: step.name, s: 'started' }))) break;
      } catch (logError) {
        failedStep = step.name;
        error = logError;
        break;
      }
      this.#emit(() => ({ type: 'step_started', saga: this.name, id: run.id, step: step.name, at: startedAt }));
      let result: unknown;
      // An attempt cut off (out of time, a network error, its signal aborted) may have taken
      // effect, whatever error the last attempt ended with.
      let cutOff = false;
      const signals: AbortSignal[] = [];
      try {
        const call = async (attempt: number, stepSignal: AbortSignal) => {
          signals.push(stepSignal);
          try {
            return await step.run({ input, results: run.results, signal: stepSignal, attempt, sagaId: run.id });
          } catch (attemptError) {
            cutOff ||= uncertainError(attemptError);
            throw attemptError;
          }
        };
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
        // Out of time, cut off (a network error) or cancelled while it ran (in any attempt), it
        // may still take effect: compensated as an interrupted one is (no result), and left
        // `started` in the log for a recovery to do so.
        uncertain = cancelled || cutOff || uncertainError(stepError) || signals.some((s) => s.aborted);
        if (!uncertain) await this.#record(run, { op: 'step', index, name: step.name, s: 'failed' });
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
        // The log keeps the result's JSON form (what a recovery reads), the run the value itself;
        // without a log, a result need not be JSON (a connection, a cyclic object).
        if (run.log) {
          const r =
            result === undefined
              ? {}
              : { r: jsonForm(result, `Saga "${this.name}": step "${step.name}" ran, but its result`) as JsonValue };
          if (!(await run.log.write({ op: 'step', index, name: step.name, s: 'completed', ...r }))) break;
        }
      } catch (logError) {
        // The step ran but the log does not say so: undo it with the others.
        failedStep = step.name;
        error = logError;
        break;
      }
    }
    if (run.log?.lost) return this.#takenOver(run, failedStep, error);
    if (failedStep === undefined && !cancelled) {
      // A refused finish means a recovery took the log after the last step: it closes it as completed too.
      await this.#record(run, { op: 'finish' });
      return this.#finish(run, 'completed', undefined, undefined);
    }
    const pending = run.reports.map((r) =>
      r.status === 'completed' || (uncertain && r.name === failedStep) ? r : undefined,
    );
    return this.#close(
      run,
      await this.#compensate(run, pending),
      cancelled ? 'cancelled' : 'compensated',
      failedStep,
      error,
    );
  }

  /** Takes over and compensates abandoned logs of this saga (at most `maxRecoverPerCall`); needs a `store`. */
  async recover(): Promise<SagaReport[]> {
    const store = this.#opts.store;
    if (!store) throw new SagaError(`Saga "${this.name}": recover() needs a store`);
    const { keyPrefix, maxRecoverPerCall, recoverAfterMs } = this.#opts;
    const owner = `recover:${this.#random().toString(36).slice(2)}`;
    const reports: SagaReport[] = [];
    const seen = new Set<string>();
    for (let limit = maxRecoverPerCall; ; limit *= 2) {
      const keys = await store.keys(keyPrefix, this.#clock.now(), { limit });
      for (const key of keys) {
        if (seen.has(key)) continue;
        seen.add(key);
        const now = this.#clock.now();
        const log = await store.apply(key, this.#claim, { owner, staleBefore: now - recoverAfterMs }, now);
        if (!log) continue;
        reports.push(await this.#recoverOne(log, now));
        if (reports.length >= maxRecoverPerCall) return reports;
      }
      if (keys.length < limit) return reports;
    }
  }

  async #recoverOne(log: SagaLogState, claimedAt: number): Promise<SagaReport> {
    const run: Run<I> = {
      id: log.id,
      log: this.#hold(log.id, () => log.owner, claimedAt),
      input: log.input as I,
      results: {},
      reports: [],
      startedAt: log.startedAt,
      recovered: true,
    };
    run.log?.hold();
    const pending = readSteps(log, run.results, run.reports);
    const allDone = log.steps.length === this.#steps.length && log.steps.every((s) => s.s === 'completed');
    if (allDone) {
      if (!(await this.#record(run, { op: 'finish' }))) return this.#takenOver(run, undefined, undefined);
      return this.#finish(run, 'completed', undefined, undefined);
    }
    for (const step of this.#steps.slice(log.steps.length)) run.reports.push({ name: step.name, status: 'not_run' });
    const ok = await this.#compensate(
      run,
      pending,
      log.steps.map((s) => s.r),
    );
    return this.#close(run, ok, 'compensated', undefined, undefined);
  }

  /**
   * Ends a compensated run: deletes its log (or marks it `failed` for a human) and reports.
   * A run that lost its log on the way reports `cancelled`: the new owner finishes it.
   */
  async #close(
    run: Run<I>,
    ok: boolean,
    status: 'compensated' | 'cancelled',
    failedStep: string | undefined,
    error: unknown,
  ): Promise<SagaReport> {
    if (!run.log?.lost) await this.#record(run, ok ? { op: 'finish' } : { op: 'phase', phase: 'failed' });
    if (run.log?.lost) return this.#takenOver(run, failedStep, error);
    return this.#finish(run, ok ? status : 'compensation_failed', failedStep, error);
  }

  /**
   * Compensates the given steps in reverse order; false when any compensation failed for
   * good. Stops before the next compensation once the log is lost (`run.log.lost`): each
   * compensation is preceded by a `compensating` write, which only the owner can make.
   */
  async #compensate(run: Run<I>, pending: readonly (SagaStepReport | undefined)[], logged?: readonly unknown[]) {
    let ok = true;
    if (pending.some((p) => p !== undefined)) await this.#record(run, { op: 'phase', phase: 'compensating' });
    for (let index = pending.length - 1; index >= 0; index--) {
      const report = pending[index];
      if (!report) continue;
      if (run.log?.lost) return ok;
      const step = this.#steps.find((s) => s.name === report.name);
      const at = this.#clock.now();
      if (step && !step.compensate) {
        report.status = 'not_compensable';
        await this.#record(run, { op: 'step', index, name: report.name, s: 'not_compensable' });
        this.#emit(() => ({ type: 'compensation_skipped', saga: this.name, id: run.id, step: report.name, at }));
        continue;
      }
      if (!(await this.#record(run, { op: 'step', index, name: report.name, s: 'compensating' }))) return ok;
      this.#emit(() => ({ type: 'compensation_started', saga: this.name, id: run.id, step: report.name, at }));
      const result = report.interrupted ? undefined : logged ? logged[index] : run.results[report.name];
      try {
        if (!step?.compensate) throw new SagaError(`Saga "${this.name}" has no step "${report.name}" to compensate`);
        const compensate = step.compensate.bind(step);
        // Not the caller's signal: undoing must finish. A time limit in the policy can stop an attempt.
        await (step.compensationRetry ?? this.#compensationRetry).execute(({ attempt, signal }) =>
          compensate({ input: run.input, results: run.results, signal, attempt, sagaId: run.id }, result),
        );
        report.status = 'compensated';
        report.compensation = this.#timing(at);
        await this.#record(run, { op: 'step', index, name: report.name, s: 'compensated' });
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
        await this.#record(run, { op: 'step', index, name: report.name, s: 'compensation_failed' });
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

  /** The report of a run that lost its log: its new owner (a recovery) finishes the work. */
  #takenOver(run: Run<I>, failedStep: string | undefined, cause: unknown): SagaReport {
    const by = run.recovered ? 'another recovery' : 'recover()';
    const error = new SagaError(
      `Saga "${this.name}" execution ${run.id} stopped: its log was taken over by ${by}, or could not be renewed for recoverAfterMs, so recover() compensates what is left`,
      cause === undefined ? undefined : { cause },
    );
    return this.#finish(run, 'cancelled', failedStep, error);
  }

  #finish(run: Run<I>, status: SagaStatus, failedStep: string | undefined, error: unknown): SagaReport {
    run.log?.release();
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

  /** This run's hold on its log (`undefined` without a store). `owner` is called only with one. */
  #hold(id: string, owner: () => string, confirmedAt: number): LogHold | undefined {
    const store = this.#opts.store;
    if (!store) return undefined;
    const { keyPrefix, recoverAfterMs } = this.#opts;
    return new LogHold(store, storeKey(keyPrefix, id), owner(), this.#log, this.#clock, recoverAfterMs, confirmedAt);
  }

  /**
   * A log write that a store error does not stop (reported as `log_failed`) while the
   * run's lease is certainly its own; false once the log is lost.
   */
  #record(run: Run<I>, op: SagaLogOp): Promise<boolean> {
    if (!run.log) return Promise.resolve(true);
    return run.log.record(op, (error) =>
      this.#emit(() => ({ type: 'log_failed', saga: this.name, id: run.id, at: this.#clock.now(), error })),
    );
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

/** A saga named `name`: add steps with `.step({ name, run, compensate })`, then `execute(input)` (docs/sagas.md). */
export function saga<I = unknown>(name: string, options: SagaOptions = {}): Saga<I> {
  return new Saga<I>(name, options);
}
