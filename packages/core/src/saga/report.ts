/** How a saga execution ended. */
export type SagaStatus = 'completed' | 'compensated' | 'compensation_failed' | 'cancelled';

/**
 * What happened to one step: `completed`, `failed` (not compensated), `compensated`,
 * `compensation_failed`, `not_compensable`, `not_run`.
 */
export type SagaStepStatus =
  | 'completed'
  | 'failed'
  | 'compensated'
  | 'compensation_failed'
  | 'not_compensable'
  | 'not_run';

export interface SagaTiming {
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly durationMs: number;
}

export interface SagaStepReport {
  readonly name: string;
  status: SagaStepStatus;
  /** When the step ran (absent for `not_run`, and for steps a recovery found in the log). */
  run?: SagaTiming;
  /** When it was compensated. */
  compensation?: SagaTiming;
  /** The run's error (`failed`) or the compensation's last error (`compensation_failed`). */
  error?: unknown;
  /** True when a crash interrupted the step: its effect was unknown and it was compensated anyway. */
  interrupted?: boolean;
}

/** The outcome of `execute` or of one saga taken over by `recover`. */
export interface SagaReport {
  readonly saga: string;
  readonly id: string;
  readonly status: SagaStatus;
  readonly steps: readonly SagaStepReport[];
  /** Results of the completed steps, by name. */
  readonly results: Readonly<Record<string, unknown>>;
  /** The step whose failure started compensation. */
  readonly failedStep?: string;
  /** That step's error, or the abort reason when cancelled. */
  readonly error?: unknown;
  /** True for a report made by `recover()`. */
  readonly recovered: boolean;
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly durationMs: number;
}

/** Audit events of a saga (subscribe with `onEvent`; nothing is built when nobody listens). */
export type SagaEvent =
  | { type: 'step_started' | 'step_completed'; saga: string; id: string; step: string; at: number }
  | { type: 'step_failed'; saga: string; id: string; step: string; at: number; error: unknown }
  | { type: 'compensation_started' | 'compensation_completed'; saga: string; id: string; step: string; at: number }
  | { type: 'compensation_failed'; saga: string; id: string; step: string; at: number; error: unknown }
  | { type: 'compensation_skipped'; saga: string; id: string; step: string; at: number }
  | { type: 'log_failed'; saga: string; id: string; at: number; error: unknown }
  | { type: 'finished'; saga: string; id: string; at: number; status: SagaStatus; recovered: boolean };
