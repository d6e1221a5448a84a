// Reading a fetch call's arguments: its URL, method, headers and signal, whichever form they take.

/** A `Request` (or a polyfill's): what `fetch` accepts besides a URL. */
export interface RequestLike {
  readonly url: string;
  readonly method: string;
  readonly headers: Headers;
  readonly signal?: AbortSignal;
  readonly body: unknown;
  clone(): RequestLike;
}

export const isRequestLike = (input: unknown): input is RequestLike =>
  typeof input === 'object' &&
  input !== null &&
  typeof (input as RequestLike).url === 'string' &&
  typeof (input as RequestLike).method === 'string' &&
  typeof (input as RequestLike).clone === 'function';

/** A header of `HeadersInit` in any of its forms (a `Headers`, pairs, a record), by case-insensitive name. */
export function headerOf(headers: unknown, name: string): string | null {
  if (headers === undefined || headers === null) return null;
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name);
  const lower = name.toLowerCase();
  if (Array.isArray(headers)) {
    for (const [key, value] of headers as [string, string][]) if (key.toLowerCase() === lower) return value;
    return null;
  }
  for (const [key, value] of Object.entries(headers as Record<string, string>)) {
    if (key.toLowerCase() === lower) return value;
  }
  return null;
}

/** Whether a body given to fetch can be sent again: a stream or an async iterable is read once. */
export const isReplayable = (body: unknown): boolean =>
  typeof body !== 'object' ||
  body === null ||
  !(typeof (body as ReadableStream).getReader === 'function' || Symbol.asyncIterator in body);

/**
 * Whether the body fetch sends for these arguments can be sent again: `init`'s when it has
 * one, else the `Request`'s. A `Request` shows its body only as a stream, but fetch makes the
 * stream of a body it holds (a string, bytes, a Blob, FormData, URLSearchParams) a byte
 * stream, and sends a stream the caller gave as it is: a body that cannot be read as bytes
 * (`{ mode: 'byob' }`) came from the caller, and is read once. (The probe reads nothing and
 * lets go at once. A byte stream of the caller's passes for bytes, and a `Request` made from
 * another `Request` for a stream, fetch piping its body through: the first is copied for a
 * retry as before, the second sent once.) A polyfill's body (node-fetch's: a Buffer or a
 * Node stream) is read as an init's.
 */
export function isReplayableCall(request: RequestLike | undefined, init: RequestInit | undefined): boolean {
  if (init?.body != null) return isReplayable(init.body);
  const body = request?.body;
  if (typeof (body as ReadableStream | null | undefined)?.getReader !== 'function') return isReplayable(body);
  try {
    (body as ReadableStream).getReader({ mode: 'byob' }).releaseLock();
    return true;
  } catch {
    return false; // not a byte stream (or locked: fetch will refuse it)
  }
}

export const isWebStream = (body: unknown): body is ReadableStream<Uint8Array> =>
  typeof (body as ReadableStream | null | undefined)?.getReader === 'function';

/** How much of a `Request`'s body is kept for a retry. */
export const KEPT_BYTES = 16 << 20;

/**
 * A copy of a `Request`'s body for a retry, read from a `clone()` as the caller's `Request`
 * goes out, up to KEPT_BYTES: past that, the copy is cancelled (a tee's spare branch would
 * otherwise hold the whole upload, a body made from a Node stream or an async iterable as much
 * as one held in memory). `kept` is the body, or the error a retry fails with, sending nothing.
 */
export class Spare {
  readonly kept: Promise<Blob | TypeError>;
  /** Whether the body was kept, once that is known: `undefined` while the copy is read. */
  isKept: boolean | undefined;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #stopped = false;

  constructor(request: RequestLike) {
    this.#reader = (request.clone().body as ReadableStream<Uint8Array>).getReader();
    this.kept = this.#read()
      .catch((error: unknown) => notKept('it could not be read again', error))
      .then((body) => {
        this.isKept = !(body instanceof TypeError);
        return body;
      });
  }

  async #read(): Promise<Blob | TypeError> {
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await this.#reader.read();
      if (this.#stopped) return notKept('the request settled');
      if (done) return new Blob(chunks);
      size += value.byteLength;
      if (size > KEPT_BYTES) {
        this.stop();
        return notKept(`it is over ${KEPT_BYTES >> 20} MiB, more than is kept for a retry`);
      }
      chunks.push(value);
    }
  }

  /** Lets go of the copy: nothing is kept, or read, for it any more. */
  readonly stop = (): void => {
    this.#stopped = true;
    this.#reader.cancel().catch(() => {});
  };
}

/**
 * The error of a retry whose `Request` body was not kept: `retryable: false`, so neither
 * retried nor counted by the breaker.
 */
function notKept(why: string, cause?: unknown): TypeError {
  const error = new TypeError(
    `fetch: the Request was not sent again: ${why} (a body given in init, as a Blob or bytes, is sent again without a copy)`,
    cause === undefined ? undefined : { cause },
  );
  return Object.assign(error, { retryable: false });
}
