import { messageOf } from '../errors/errors.js';
import type { RecordedError } from './record.js';

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

/** What is recorded of an error: its name, message, and a `code` and `status` when it has them. */
export function recordedError(error: unknown): RecordedError {
  const e = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>;
  const code = e.code;
  const status = e.status ?? e.statusCode;
  return {
    name: typeof e.name === 'string' ? e.name : 'Error',
    message: messageOf(error),
    ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
    ...(typeof status === 'number' ? { status } : {}),
  };
}
