import type { ServerResponse } from 'node:http';

/** The most characters of a path a log line carries (a request target may be kilobytes long). */
const MAX_LOGGED_PATH = 200;

/**
 * The request's path as the client sent it (Express's `originalUrl`: a middleware mounted on a
 * path sees `url` without it), without its query (which may carry secrets), cut to {@link MAX_LOGGED_PATH}.
 */
export function loggedPath(res: ServerResponse): string | undefined {
  const req = res.req as { originalUrl?: string; url?: string } | undefined;
  const url = req?.originalUrl ?? req?.url;
  if (url === undefined) return undefined;
  const query = url.indexOf('?');
  const path = query < 0 ? url : url.slice(0, query);
  return path.length > MAX_LOGGED_PATH ? `${path.slice(0, MAX_LOGGED_PATH)}…` : path;
}
