import { hideUrlSecrets, messageOf } from '@resilience/core/internal';

const shown = (text: unknown): unknown => (typeof text === 'string' ? hideUrlSecrets(text) : text);

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
 * A request body that cannot be read: over `maxBodyBytes` (413, `Connection: close`: the rest
 * is not read), JSON that does not parse (400), a coding (415, with `Accept-Encoding`) or
 * charset (415) it cannot decode; `status`, `expose` and `headers` as http-errors has them.
 */
export class RequestBodyError extends Error {
  readonly code: RequestBodyErrorCode;
  readonly status: 400 | 413 | 415;
  readonly expose = true;
  readonly headers: Readonly<Record<string, string>>;
  readonly limitBytes: number | undefined; // the limit a 413 passed

  constructor(
    code: RequestBodyErrorCode,
    message: string,
    options: { cause?: unknown; limitBytes?: number; headers?: Record<string, string> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = STATUS[code];
    this.headers = options.headers ?? (code === 'body_too_large' ? { connection: 'close' } : {});
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
    const { name, message, stack } = e ?? {};
    return { name, message: shown(message), stack: shown(stack) };
  } catch {
    return { message: shown(messageOf(error)) };
  }
}
