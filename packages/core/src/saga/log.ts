import type { JsonValue, Transition } from '../store/store.js';
import type { SagaStepReport } from './report.js';

/** Where a step stands in the durable log. */
export type LoggedStepState =
  | 'started'
  | 'completed'
  | 'failed'
  | 'compensating'
  | 'compensated'
  | 'compensation_failed'
  | 'not_compensable';

export interface LoggedStep {
  readonly name: string;
  readonly s: LoggedStepState;
  /** The step's result, once completed. */
  readonly r?: JsonValue;
}

/**
 * The durable record of one saga execution (JSON). `phase` is `running` while steps run,
 * `compensating` while undoing them, `failed` when a compensation failed for good (kept
 * for a human, not recovered again). A finished saga's log is deleted.
 */
export interface SagaLogState {
  readonly v: 1;
  readonly id: string;
  readonly phase: 'running' | 'compensating' | 'failed';
  readonly input: JsonValue;
  readonly steps: readonly LoggedStep[];
  readonly startedAt: number;
  /** Time of the last write: the log is abandoned once it is `recoverAfterMs` old. */
  readonly at: number;
  readonly owner: string;
}

/** One event of a saga log, without its writer. */
export type SagaLogOp =
  | { readonly op: 'start'; readonly id: string; readonly input: JsonValue }
  | {
      readonly op: 'step';
      readonly index: number;
      readonly name: string;
      readonly s: LoggedStepState;
      readonly r?: JsonValue;
    }
  | { readonly op: 'phase'; readonly phase: 'compensating' | 'failed' }
  | { readonly op: 'touch' }
  | { readonly op: 'finish' };

/** An event and the execution (or recovery) writing it. */
export type SagaLogInput = SagaLogOp & { readonly owner: string };

/**
 * Appends one event to a saga log: `start` creates it, `step` records a step's state
 * (before and after it runs or is compensated), `phase` moves it, `touch` renews its
 * owner's lease (only `at` changes), `finish` deletes it. Only the log's owner may write:
 * once `recover()` has taken a log over, the previous owner's writes are refused (output
 * `false`), so it stops instead of racing.
 */
export function sagaLogTransition(ttlMs: number): Transition<SagaLogState, SagaLogInput, boolean> {
  return {
    name: 'saga.log',
    params: { ttlMs },
    apply(state, input, now) {
      if (input.op === 'start') {
        // An id in use (running, awaiting recovery, or failed) is never overwritten: its compensations would be lost.
        if (state !== undefined) return { state, output: false, ttlMs: 0, write: false };
        const next: SagaLogState = {
          v: 1,
          id: input.id,
          phase: 'running',
          input: input.input,
          steps: [],
          startedAt: now,
          at: now,
          owner: input.owner,
        };
        return { state: next, output: true, ttlMs, pinned: true };
      }
      if (state === undefined || state.owner !== input.owner) return { state, output: false, ttlMs: 0, write: false };
      if (input.op === 'finish') return { state: undefined, output: true, ttlMs: 0 };
      // A live log is pinned: a bounded store evicting it would leave its completed steps undone for good.
      const pinned = state.phase !== 'failed';
      if (input.op === 'phase') {
        return {
          state: { ...state, phase: input.phase, at: now },
          output: true,
          ttlMs,
          pinned: input.phase !== 'failed',
        };
      }
      if (input.op === 'touch') return { state: { ...state, at: now }, output: true, ttlMs, pinned };
      const steps = state.steps.slice();
      const entry: LoggedStep =
        input.r === undefined ? { name: input.name, s: input.s } : { name: input.name, s: input.s, r: input.r };
      // A compensation keeps the result the step logged when it completed.
      const previous = steps[input.index];
      steps[input.index] = entry.r === undefined && previous?.r !== undefined ? { ...entry, r: previous.r } : entry;
      return { state: { ...state, steps, at: now }, output: true, ttlMs, pinned };
    },
  };
}

/**
 * Takes over an abandoned log for recovery: only a saga log (`v: 1`) that is running or
 * compensating and whose last write (its owner's lease: every write and `touch` renews
 * it) is at or before `staleBefore`. Atomic, so two recovering processes never both take
 * the same saga. Resolves with the log taken, or `undefined`.
 */
export function sagaClaimTransition(
  ttlMs: number,
): Transition<SagaLogState, { readonly owner: string; readonly staleBefore: number }, SagaLogState | undefined> {
  return {
    name: 'saga.claim',
    params: { ttlMs },
    apply(state, input, now) {
      if (state?.v !== 1 || state.phase === 'failed' || state.at > input.staleBefore) {
        return { state, output: undefined, ttlMs: 0, write: false };
      }
      const next: SagaLogState = { ...state, phase: 'compensating', owner: input.owner, at: now };
      return { state: next, output: next, ttlMs, pinned: true };
    },
  };
}

/** Logged step states a recovery compensates (again): whatever may have left an effect. */
const TO_COMPENSATE: ReadonlySet<LoggedStepState> = new Set([
  'started',
  'completed',
  'compensating',
  'compensation_failed',
]);

/**
 * What a recovery reads from a log it took over: each logged step's report and result
 * (added to `reports` and `results`), and, per logged step, its report when it is to be
 * compensated (again) — a step a crash interrupted is marked `interrupted`.
 */
export function readSteps(
  log: SagaLogState,
  results: Record<string, unknown>,
  reports: SagaStepReport[],
): (SagaStepReport | undefined)[] {
  return log.steps.map((entry) => {
    if (entry.s === 'completed') results[entry.name] = entry.r;
    const report: SagaStepReport = {
      name: entry.name,
      status: entry.s === 'compensated' ? 'compensated' : 'completed',
    };
    if (entry.s === 'not_compensable' || entry.s === 'failed') report.status = entry.s;
    if (entry.s === 'started') report.interrupted = true;
    reports.push(report);
    return TO_COMPENSATE.has(entry.s) ? report : undefined;
  });
}
