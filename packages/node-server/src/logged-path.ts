import type { ServerResponse } from 'node:http';
import { hideUrlSecrets } from '@resilience/core/internal';

/** The most characters of a path a log line carries (a request target may be kilobytes long). */
const MAX_LOGGED_PATH = 200;

const CONTROL = /\p{Cc}/u;
const CONTROLS = /\p{Cc}/gu;

/**
 * `path` with every control character (C0, DEL, C1) percent-encoded as UTF-8 (U+0085 is
 * `%C2%85`), any other character as it is. Over HTTP/2 Node passes the bytes 0x80-0x9F of a
 * `:path` through as U+0080-U+009F (over HTTP/1 it answers 400): such a path must reach neither
 * a log line raw nor core's `fingerprintInput`, which refuses control characters. Two paths
 * that differ there stay different.
 */
export function escapeControls(path: string): string {
  return CONTROL.test(path) ? path.replace(CONTROLS, (c) => encodeURIComponent(c)) : path;
}

/**
 * The request's path as the client sent it (Express's `originalUrl`: a middleware mounted on a
 * path sees `url` without it), without its query (which may carry secrets), cut to
 * {@link MAX_LOGGED_PATH}, its control characters percent-encoded (see {@link escapeControls};
 * after the cut, so an escape is never cut in two).
 */
export function loggedPath(res: ServerResponse): string | undefined {
  const req = res.req as { originalUrl?: string; url?: string } | undefined;
  const url = req?.originalUrl ?? req?.url;
  if (url === undefined) return undefined;
  const query = url.indexOf('?');
  const path = query < 0 ? url : url.slice(0, query);
  return path.length > MAX_LOGGED_PATH ? `${escapeControls(path.slice(0, MAX_LOGGED_PATH))}…` : escapeControls(path);
}

/** The most characters of an error's message a log line's text carries (its field keeps it whole). */
const MAX_LOGGED_TEXT = 500;

/** Control characters, line and paragraph separators, bidi embeddings, overrides and isolates. */
const UNSAFE = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

/**
 * `text` (an error's message, most often) as a log line's text carries it: cut to
 * {@link MAX_LOGGED_TEXT} characters, each character that could end the line, start a
 * terminal escape or reorder what a reader sees written `\u{…}`. A message may quote a request
 * (a body that did not parse, a name that was not found): raw, `\n` would forge a second log
 * line for whoever reads a console or a file; a quoted URL's credentials, query and fragment
 * are shown as `…` (core's `hideUrlSecrets`, as in recentErrors and logEvents). Structured
 * fields keep the message unescaped.
 */
export function loggedText(text: string): string {
  return hideUrlSecrets(text, MAX_LOGGED_TEXT).replace(UNSAFE, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}
