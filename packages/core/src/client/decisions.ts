import { isTransient, statusOf } from '../errors/classify.js';
import { isOwnRejection } from '../errors/errors.js';

/** The request header that makes a request safe to repeat (draft-ietf-httpapi-idempotency-key-header). */
export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';

/** Methods RFC 9110 §9.2.2 defines as idempotent: repeating them has the effect of sending them once. */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = /* @__PURE__ */ new Set([
  'GET',
  'HEAD',
  'OPTIONS',
  'TRACE',
  'PUT',
  'DELETE',
]);

/** Methods `idempotencyKey: true` adds a generated key to, so that they become safe to retry. */
export const KEYED_METHODS: ReadonlySet<string> = /* @__PURE__ */ new Set(['POST', 'PATCH']);

/** The statuses an HTTP client retries (425 too, though `isTransient` calls a 4xx permanent). */
export const RETRYABLE_STATUSES: readonly number[] = [408, 425, 429, 500, 502, 503, 504];

/** Whether an answer with this status is worth repeating (see {@link RETRYABLE_STATUSES}). */
export const isRetryableStatus = (status: number): boolean => RETRYABLE_STATUSES.includes(status);

type Bag = Record<string, unknown>;

/** Whether a failed HTTP attempt may succeed if repeated: {@link RETRYABLE_STATUSES}, else `isTransient` (docs/client.md). */
export function isRetryableFailure(error: unknown): boolean {
  const status = statusOf(error);
  const e = error as Bag;
  if (
    status === undefined ||
    status < 400 || // an answer that began, then failed (a body broken off)
    isOwnRejection(error) ||
    typeof e.retryable === 'boolean' ||
    typeof e.transient === 'boolean'
  ) {
    return isTransient(error);
  }
  return isRetryableStatus(status) && e.code !== 'insufficient_quota' && e.type !== 'insufficient_quota';
}

/** Whether a request is safe to repeat: an idempotent method, or an `Idempotency-Key`. */
export function isIdempotentRequest(method: string, idempotencyKey: string | null | undefined): boolean {
  return IDEMPOTENT_METHODS.has(method.toUpperCase()) || (idempotencyKey != null && idempotencyKey !== '');
}

/**
 * The host a request's policies belong to, as the URL parser reads it: `host[:port]`,
 * lower-cased, without user info or the scheme's default port. `''` for a relative URL.
 */
export const hostKeyOf = (url: string | URL): string =>
  withoutRootDot(typeof url === 'string' ? hostOfText(url) : url.host);

/** `example.com.` (DNS's root label) is `example.com`: one host, not another key to dodge its quota with. */
const withoutRootDot = (host: string): string =>
  host.charCodeAt(host.length - 1) === 46 || host.includes('.:') ? host.replace(/\.(?=(:\d*)?$)/, '') : host;

function hostOfText(url: string): string {
  const scheme = url.indexOf('://');
  if (scheme < 0) {
    // No `//`, yet a scheme: the parser reads `http:api.example.com` or `http:\\api.example.com`
    // as `http://api.example.com`, so they are that host, not a key of their own.
    const colon = url.indexOf(':');
    return colon > 0 && isPlainScheme(url, colon) ? parsedHost(url) : '';
  }
  const start = scheme + 3;
  const end = authorityEnd(url, start);
  const at = url.lastIndexOf('@', end - 1); // the user info ends at the last @
  const from = at < start ? start : at + 1;
  if (!isPlainScheme(url, scheme)) return parsedHost(url); // a `://` in a relative URL's query names no host
  if (!isPlainHost(url, from, end)) {
    const host = parsedHost(url); // rare spellings: the parser's canonical host
    if (host !== '') return host; // else not a URL fetch would send: its text below
  }
  const host = url.slice(from, end).toLowerCase();
  const name = url.slice(0, scheme).toLowerCase();
  const port = name === 'https' || name === 'wss' ? ':443' : name === 'http' || name === 'ws' ? ':80' : undefined;
  return port !== undefined && host.endsWith(port) ? host.slice(0, -port.length) : host;
}

/** The host the URL parser reads in `url`; `''` for what it cannot parse (a relative URL). */
function parsedHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '';
  }
}

const isLetter = (c: number) => (c | 32) >= 97 && (c | 32) <= 122;
const isDigit = (c: number) => c >= 48 && c <= 57;

/** A scheme of letters, digits, `+`, `-` and `.` from the first character (no space before it). */
function isPlainScheme(url: string, end: number): boolean {
  if (end === 0 || !isLetter(url.charCodeAt(0))) return false;
  for (let i = 1; i < end; i++) {
    const c = url.charCodeAt(i);
    if (!isLetter(c) && !isDigit(c) && c !== 43 && c !== 45 && c !== 46) return false;
  }
  return true;
}

/**
 * Whether `url[start, end)` is a host the URL parser keeps as written (but for case): ASCII
 * letters, digits, `-` and `.`, a name or a dotted-quad IPv4 address, and a port, if any, of
 * digits without a leading zero.
 */
function isPlainHost(url: string, start: number, end: number): boolean {
  let colon = end;
  for (let i = start; i < end; i++) {
    const c = url.charCodeAt(i);
    if (c === 58) {
      colon = i;
      break;
    }
    if (!isLetter(c) && !isDigit(c) && c !== 45 && c !== 46) return false;
  }
  if (colon === start) return false;
  if (colon < end) {
    if (colon + 1 === end || colon + 6 < end || url.charCodeAt(colon + 1) === 48) return false;
    for (let i = colon + 1; i < end; i++) if (!isDigit(url.charCodeAt(i))) return false;
  }
  // A name whose last label starts with a digit is read as an IPv4 address (`127.1`, `0x7f.1`).
  const dot = url.lastIndexOf('.', colon - 2); // a trailing dot is not the last label's start
  const last = dot < start ? start : dot + 1;
  return !isDigit(url.charCodeAt(last)) || isDottedQuad(url, start, colon);
}

/** Four decimal numbers of 0-255 without leading zeros, separated by dots. */
function isDottedQuad(url: string, start: number, end: number): boolean {
  let parts = 0;
  let i = start;
  while (i < end) {
    const from = i;
    let n = 0;
    for (; i < end && isDigit(url.charCodeAt(i)); i++) n = n * 10 + url.charCodeAt(i) - 48;
    const length = i - from;
    if (length === 0 || length > 3 || n > 255 || (length > 1 && url.charCodeAt(from) === 48)) return false;
    parts++;
    if (i < end && (url.charCodeAt(i) !== 46 || ++i === end)) return false;
  }
  return parts === 4;
}

/** Where the authority of `url` ends: at the first `/`, `?`, `#` or `\\` from `start`, or the end. */
export function authorityEnd(url: string, start: number): number {
  let end = start;
  for (; end < url.length; end++) {
    const c = url.charCodeAt(end);
    if (c === 47 || c === 63 || c === 35 || c === 92) break;
  }
  return end;
}
