import type { IncomingMessage, ServerResponse } from 'node:http';
import { isEnded, isHeadersSent, setField } from './accessors.js';
import { LateResponse } from './late-response.js';
import { setLateResponse } from './request-state.js';

/** What {@link respondOnce} sends. */
export interface Answer {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
  readonly body?: string | Buffer;
}

/**
 * Headers that describe a body — its length, coding, type, file name, validators, freshness —
 * set for the handler's (by the handler, or before it): none describes an answer given in its
 * place. Security and CORS headers (`content-security-policy`, `access-control-*`) are not
 * among them: they stay.
 */
const BODY_HEADERS: ReadonlySet<string> = new Set([
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'content-location',
  'content-range',
  'content-disposition',
  'content-md5',
  'content-digest',
  'repr-digest',
  'digest',
  'etag',
  'last-modified',
  'expires',
]);

/** The real `setImmediate`, whatever fake timers a test installs after this loads. */
const nextTurn = setImmediate;

/**
 * True while the request has a body still on its way: one announced (a `Transfer-Encoding`, a
 * `Content-Length` but 0) that Node has not read to its end. Never over HTTP/2: a stream ends
 * on its own, and carries no `Connection`.
 */
function bodyToCome(req: IncomingMessage | undefined): boolean {
  if (req === undefined || req.complete || req.httpVersionMajor > 1) return false;
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length']) > 0;
}

/**
 * Resolves in Node's next turn when the request has a body still on its way, so an answer
 * given then is given once Node has read what of it already came; undefined (answer at once)
 * when none is to come. An answer given as the request's head is read (a 429 from memory)
 * sees none of the body, not even of one sent in the same packet: {@link clearBodyHeaders}
 * would close the connection for a body that is all there.
 */
export function bodyArrived(res: ServerResponse): Promise<void> | undefined {
  return bodyToCome(res.req) ? new Promise((resolve) => nextTurn(resolve)) : undefined;
}

/** Runs `answer` at once, or once the body that already came is read (see {@link bodyArrived}): then a promise. */
export function afterBody(res: ServerResponse, answer: () => void): Promise<void> | undefined {
  const arrived = bodyArrived(res);
  if (arrived !== undefined) return arrived.then(answer);
  answer();
  return undefined;
}

/**
 * Readies `res` for an answer of the toolkit's in place of the handler's body: drops the
 * headers that described that body (a stale `Content-Length` would hang the client, a
 * `Content-Encoding: gzip` make the answer unreadable, an `ETag` or `Content-Disposition`
 * mislabel it), and turns a `Cache-Control` into `no-store`, so no cache keeps a 429 or a 5xx
 * for as long as the handler meant to keep its answer — and so the fields a CDN obeys instead
 * (`CDN-Cache-Control` and its vendors' `…-CDN-Cache-Control`, RFC 9213; `Surrogate-Control`).
 * A reason phrase the handler set goes too. The answer's own headers go on after.
 * While the request's body is still on its way (a slowloris, a 1 GB upload refused, an
 * `Expect: 100-continue` whose body never came), the answer says `Connection: close` and Node
 * closes the connection after it (RFC 9112 §9.6): kept, it would read the rest, to throw it
 * away, for up to `server.requestTimeout`. A body all read, or none, keeps the connection.
 */
export function clearBodyHeaders(res: ServerResponse): void {
  // Node then writes the answer's own (`503 Service Unavailable`). HTTP/2 has none (Node warns).
  if ((res.req?.httpVersionMajor ?? 1) < 2) res.statusMessage = '';
  if (bodyToCome(res.req)) res.setHeader('connection', 'close');
  for (const name of res.getHeaderNames()) {
    if (BODY_HEADERS.has(name)) res.removeHeader(name);
    else if (name.endsWith('cache-control') || name === 'surrogate-control') res.setHeader(name, 'no-store');
  }
}

/**
 * Answers the request now (a timeout's 503, say) and seals the response: every later write by
 * the handler — `res.json`, `res.send`, `setHeader`, `writeHead`, `write`, `end` — does
 * nothing and throws nothing, so "headers already sent" never escapes. Headers set earlier by
 * other middleware (CORS, rate limits) stay; those describing the handler's body go (see
 * {@link clearBodyHeaders}). Writes
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
  clearBodyHeaders(res);
  res.statusCode = answer.status;
  for (const [name, value] of Object.entries(answer.headers ?? {})) setField(res, name, value);
  endWith(res, answer.body);
  late.seal(res);
  return true;
}

/**
 * `res.end(body)`, and to a HEAD (Node sends no body, and counts none) the GET's
 * `Content-Length`: the body's, unless the answer brings its own (a replayed HEAD's).
 */
export function endWith(res: ServerResponse, body: Answer['body']): void {
  // A 204 or 304 has no content, and a 204 no Content-Length (RFC 9110 §8.6; a 304's must be
  // its 200's, unknown here): Node sends neither a body nor a length it was not given.
  if (res.statusCode === 204 || res.statusCode === 304) {
    res.end();
    return;
  }
  // Its length said (a HEAD's as its GET's): without one, Node ends an HTTP/1.0 client's
  // keep-alive connection after the answer.
  if (body !== undefined && !res.hasHeader('content-length')) setField(res, 'content-length', Buffer.byteLength(body));
  res.end(body);
}
