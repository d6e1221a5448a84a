import { messageOf } from '@resilience/core/internal';

/**
 * Why a request's signal aborts when its client goes away before the response ends. Its
 * `code` is Node's `ABORT_ERR`, so core's `classify` files it under `cancelled`; `status` is
 * the 499 ("client closed request") the request is recorded with.
 */
export class ClientDisconnectedError extends Error {
  readonly code = 'ABORT_ERR';
  readonly status = 499;

  constructor(options?: { cause?: unknown }) {
    super('The client disconnected before the response ended', options);
  }

  override get name(): string {
    return 'ClientDisconnectedError';
  }
}

/** What went wrong with a request body; each maps to one HTTP status. */
export type RequestBodyErrorCode = 'body_too_large' | 'body_invalid' | 'unsupported_media_type';

const STATUS: Record<RequestBodyErrorCode, 400 | 413 | 415> = {
  body_too_large: 413,
  body_invalid: 400,
  unsupported_media_type: 415,
};

/**
 * A request body that cannot be read: larger than `maxBodyBytes` (413), declared JSON but not
 * parseable (400), or in an encoding or charset we cannot decode (415). It carries `status`,
 * `statusCode`, `expose` and `headers` the way http-errors does, so Express's and Koa's own
 * error paths answer it correctly too. A 413 asks for `Connection: close`: the rest of the
 * body is not read, so the connection cannot be reused.
 */
export class RequestBodyError extends Error {
  readonly code: RequestBodyErrorCode;
  readonly status: 400 | 413 | 415;
  readonly expose = true;
  readonly headers: Readonly<Record<string, string>>;
  /** The limit that was passed, for a 413. */
  readonly limitBytes: number | undefined;

  constructor(code: RequestBodyErrorCode, message: string, options: { cause?: unknown; limitBytes?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = STATUS[code];
    this.headers = code === 'body_too_large' ? { connection: 'close' } : {};
    this.limitBytes = options.limitBytes;
  }

  get statusCode(): number {
    return this.status;
  }

  override get name(): string {
    return 'RequestBodyError';
  }
}

/** True for a {@link RequestBodyError}, also from another copy of this code (another adapter's bundle). */
export function isRequestBodyError(error: unknown): error is RequestBodyError {
  return (
    error instanceof Error &&
    error.name === 'RequestBodyError' &&
    typeof (error as { code?: unknown }).code === 'string'
  );
}

/** The fields a log line shows of an error: what can be read of its name, message and stack. */
export function errorFields(error: unknown): { name?: unknown; message?: unknown; stack?: unknown } {
  try {
    const e = error as { name?: unknown; message?: unknown; stack?: unknown } | null;
    return { name: e?.name, message: e?.message, stack: e?.stack };
  } catch {
    return { message: messageOf(error) };
  }
}
