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
