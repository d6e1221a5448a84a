import { messageOf } from '../errors/errors.js';
import { httpErrorStatus } from '../http/error-response.js';
import type { RecordedError, RecordedOutcome } from './record.js';

/** An error replayed from a record: the original's name, message, code and status. */
export class ReplayedError extends Error {
  readonly code?: string | number;
  readonly status?: number;
  /** Always true: the call did not run; this is the first call's recorded error. */
  readonly replayed = true;
  readonly #name: string;
  constructor(recorded: RecordedError) {
    super(recorded.message);
    this.#name = recorded.name;
    if (recorded.code !== undefined) this.code = recorded.code;
    if (recorded.status !== undefined) this.status = recorded.status;
  }
  override get name(): string {
    return this.#name;
  }
}

/**
 * What is recorded of an error: its name, message and `code`, and as `status` the one a server
 * answers it with (`httpErrorStatus`: an upstream's 401 is 502), so a replay answers alike.
 */
export function recordedError(error: unknown): RecordedError {
  const { status } = httpErrorStatus(error);
  let name: unknown;
  let code: unknown;
  try {
    ({ name, code } = error as Record<string, unknown>);
  } catch {
    // a getter that throws: recorded as what could be read
  }
  return {
    name: typeof name === 'string' ? name : 'Error',
    message: messageOf(error),
    ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
    status,
  };
}

/** Whether an outcome read from a store is one this package writes: a value, or an error with a name, a message and an integer status. */
export function isReadable(outcome: RecordedOutcome | undefined): outcome is RecordedOutcome {
  if (outcome?.ok === true) return true;
  const e = outcome?.ok === false ? (outcome.error as Partial<RecordedError> | null) : undefined;
  return (
    typeof e?.name === 'string' &&
    typeof e.message === 'string' &&
    (e.status === undefined || Number.isInteger(e.status))
  );
}
