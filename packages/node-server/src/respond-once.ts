import type { ServerResponse } from 'node:http';
import { isEnded, isHeadersSent, setField } from './accessors.js';
import { LateResponse } from './late-response.js';
import { setLateResponse } from './request-state.js';

/** What {@link respondOnce} sends. */
export interface Answer {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
  readonly body?: string | Buffer;
}

/** Headers that describe the handler's body, dropped before a different body goes out. */
const ENTITY = /^(content-|etag$|last-modified$)/;

/**
 * Answers the request now (a timeout's 503, say) and seals the response: every later write by
 * the handler — `res.json`, `res.send`, `setHeader`, `writeHead`, `write`, `end` — does
 * nothing and throws nothing, so "headers already sent" never escapes. Headers set earlier by
 * other middleware (CORS, rate limits) stay; those describing the handler's body go. Writes
 * go through whatever wraps the response (a capture, compression). What the handler writes
 * later is kept as its {@link LateResponse} (`lateResponse(res)`): an idempotency capture
 * records it, since that is the answer a retry must get. Returns false, writing nothing and
 * sealing nothing, when the response has already started: the handler is streaming, and only
 * destroying the response would stop it.
 */
export function respondOnce(res: ServerResponse, answer: Answer): boolean {
  if (isHeadersSent(res) || isEnded(res)) return false;
  // Before the answer changes them: the handler's status and headers, where its late answer starts.
  const late = new LateResponse(res);
  setLateResponse(res, late);
  for (const name of res.getHeaderNames()) if (ENTITY.test(name)) res.removeHeader(name);
  res.statusCode = answer.status;
  for (const [name, value] of Object.entries(answer.headers ?? {})) setField(res, name, value);
  res.end(answer.body);
  late.seal(res);
  return true;
}
