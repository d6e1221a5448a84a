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

/** Whether a body can be sent again: a stream or an async iterable is read once. */
export const isReplayable = (body: unknown): boolean =>
  typeof body !== 'object' ||
  body === null ||
  !(typeof (body as ReadableStream).getReader === 'function' || Symbol.asyncIterator in body);
