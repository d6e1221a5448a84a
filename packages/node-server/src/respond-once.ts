import type { ServerResponse } from 'node:http';

/** What {@link respondOnce} sends. */
export interface Answer {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
  readonly body?: string | Buffer;
}

/** Headers that describe the handler's body, dropped before a different body goes out. */
const ENTITY = /^(content-|etag$|last-modified$)/;

const callLater = (callback: unknown) => {
  if (typeof callback === 'function') queueMicrotask(() => callback());
};

/** Late writes: each returns what the real method returns and calls its callback, writing nothing. */
const swallowed = {
  writeHead(this: ServerResponse) {
    return this;
  },
  setHeader(this: ServerResponse) {
    return this;
  },
  appendHeader(this: ServerResponse) {
    return this;
  },
  setHeaders(this: ServerResponse) {
    return this;
  },
  removeHeader() {},
  flushHeaders() {},
  addTrailers() {},
  writeContinue() {},
  writeProcessing() {},
  writeEarlyHints(_hints: unknown, callback?: unknown) {
    callLater(callback);
  },
  write(_chunk: unknown, encoding?: unknown, callback?: unknown) {
    callLater(typeof encoding === 'function' ? encoding : callback);
    return true;
  },
  end(this: ServerResponse, chunk?: unknown, encoding?: unknown, callback?: unknown) {
    callLater([chunk, encoding, callback].find((a) => typeof a === 'function'));
    return this;
  },
};

/**
 * Answers the request now (a timeout's 503, say) and seals the response: every later write by
 * the handler — `res.json`, `res.send`, `setHeader`, `writeHead`, `write`, `end` — does
 * nothing and throws nothing, so "headers already sent" never escapes. Headers set earlier by
 * other middleware (CORS, rate limits) stay; those describing the handler's body go. Writes
 * go through whatever wraps the response (a capture, compression). Returns false, writing
 * nothing and sealing nothing, when the response has already started: the handler is
 * streaming, and only destroying the response would stop it.
 */
export function respondOnce(res: ServerResponse, answer: Answer): boolean {
  if (res.headersSent || res.writableEnded) return false;
  for (const name of res.getHeaderNames()) if (ENTITY.test(name)) res.removeHeader(name);
  res.statusCode = answer.status;
  for (const [name, value] of Object.entries(answer.headers ?? {})) res.setHeader(name, value);
  res.end(answer.body);
  Object.assign(res, swallowed);
  return true;
}
