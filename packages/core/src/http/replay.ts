import { StoreUnavailableError } from '../errors/errors.js';
import { type ProblemContext, type ProblemResponse, problemResponse } from './problem.js';

/** The header names of the idempotency middleware, lower-case. */
export const IDEMPOTENCY_HEADERS = {
  /** The request header carrying the key. */
  key: 'idempotency-key',
  /** On a replayed response: `true`. */
  replayed: 'idempotent-replayed',
  /** On a response that was not recorded (a stream, or a body over the limit): why. */
  notRecorded: 'idempotency-not-recorded',
} as const;

/**
 * The response headers a replay repeats: those describing the body or resource; never `set-cookie`,
 * `date`, `content-length` or per-response fields.
 */
export const REPLAYED_HEADERS: readonly string[] = [
  'content-type',
  'content-language',
  'content-encoding',
  'content-location',
  'content-disposition',
  'location',
  'etag',
  'last-modified',
  'cache-control',
  'expires',
  'link',
  'vary',
  'retry-after',
];

/** A finished response as the idempotency store keeps it (JSON). */
export interface ReplayRecord {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  /** The body as text (`encoding: 'utf8'`) or base64 of its bytes (`'base64'`). */
  readonly body: string;
  readonly encoding: 'utf8' | 'base64';
}

/** A response to record. */
export interface RecordedResponse {
  readonly status: number;
  /** The response's headers, any case (`res.getHeaders()`, `ctx.response.headers`). */
  readonly headers: Readonly<Record<string, unknown>>;
  /** The body as sent: text, bytes (a Buffer is a Uint8Array), or nothing. */
  readonly body: string | Uint8Array | undefined;
}

/** Bytes as base64, without Buffer (core runs anywhere). */
function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * A response's status, headers ({@link REPLAYED_HEADERS}, `options.headers`) and body (bytes as
 * base64), to replay it byte for byte. Throws `TypeError` for a status outside 100–599 or another body.
 */
export function replayRecord(
  response: RecordedResponse,
  options: { readonly headers?: readonly string[] } = {},
): ReplayRecord {
  const { status, headers, body } = response;
  if (!(Number.isInteger(status) && status >= 100 && status <= 599)) {
    throw new TypeError(`replayRecord: status: expected an HTTP status (100-599), received ${String(status)}`);
  }
  if (!(body === undefined || typeof body === 'string' || body instanceof Uint8Array)) {
    throw new TypeError('replayRecord: body: expected a string, bytes (Uint8Array, Buffer) or undefined');
  }
  const keep = new Set([...REPLAYED_HEADERS, ...(options.headers ?? []).map((h) => h.toLowerCase())]);
  const kept: Record<string, string | readonly string[]> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const lower = name.toLowerCase();
    if (!keep.has(lower)) continue;
    if (typeof value === 'string' || typeof value === 'number') kept[lower] = String(value);
    else if (Array.isArray(value)) kept[lower] = value.map(String);
  }
  if (body instanceof Uint8Array) return { status, headers: kept, body: toBase64(body), encoding: 'base64' };
  return { status, headers: kept, body: body ?? '', encoding: 'utf8' };
}

/** A record's status, headers (with `idempotent-replayed: true`) and body; a damaged one throws `StoreUnavailableError`. */
export function replayResponse(record: ReplayRecord): {
  status: number;
  headers: Record<string, string | readonly string[]>;
  body: string | Uint8Array;
} {
  const { status, headers, body, encoding } = (record ?? {}) as Partial<ReplayRecord>;
  const isText = (v: unknown) => typeof v === 'string';
  const bad = !(Number.isInteger(status) && status! >= 100 && status! <= 599)
    ? 'status'
    : !(
          typeof headers === 'object' &&
          headers &&
          Object.values(headers).every((v) => isText(v) || (Array.isArray(v) && v.every(isText)))
        )
      ? 'headers'
      : !(isText(body) && (encoding === 'utf8' || (encoding === 'base64' && /^[A-Za-z\d+/]*={0,2}$/.test(body!))))
        ? 'body'
        : undefined;
  if (bad) throw new StoreUnavailableError(`replayResponse: a recorded response it cannot read (its ${bad})`);
  return {
    status: status!,
    headers: { ...headers, [IDEMPOTENCY_HEADERS.replayed]: 'true' },
    body: encoding === 'base64' ? fromBase64(body!) : body!,
  };
}

/**
 * Answers never recorded: those telling the client to come back (408 Request Timeout, 425
 * Too Early, 429 Too Many Requests: replayed, they would answer every retry they ask for),
 * and 499, a client that left (nobody heard it; the retry is the client's next try).
 */
const RETRY_ANSWERS: ReadonlySet<number> = new Set([304, 408, 425, 429, 499]);

/** Whether a response is recorded for replay: 2xx, 3xx and 4xx but 304, 408, 425, 429 and 499; a 5xx only with `recordServerErrors`. */
export function shouldRecordResponse(status: number, options: { readonly recordServerErrors?: boolean } = {}): boolean {
  if (RETRY_ANSWERS.has(status)) return false;
  return status < 500 || options.recordServerErrors === true;
}

/** The 413 problem+json for a request body over `maxBytes` (the idempotency middleware's limit). */
export function payloadTooLargeResponse(options: ProblemContext & { readonly maxBytes: number }): ProblemResponse {
  return problemResponse('payload_too_large', 413, 'validation', options, {
    detail: `The request body is over ${options.maxBytes} bytes.`,
  });
}
