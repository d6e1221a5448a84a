import { isRetryableFailure } from '@resilience/core';
import axios, { type AxiosError } from 'axios';
import { fetchedStatus } from './adapter-bodies.js';

/**
 * The reasons undici's fetch gives (the fetch adapter's `ERR_NETWORK` has them as its `cause`)
 * for a request fetch's own rules refuse: a redirect loop (20 redirects), a redirect to a
 * scheme fetch does not speak, a port it never sends to, a redirect its mode forbids (to
 * another origin with credentials in the URL), and none at all (an empty message) for a 307
 * or 308 of a streamed body, which fetch cannot send again. A socket's failure has a `code`.
 */
const FETCH_RULE =
  /^(|redirect count exceeded|unexpected redirect|URL scheme must be a HTTP\(S\) scheme|unknown scheme|bad port|invalid method|proxy authentication required|cross origin not allowed for request mode "cors"|URL cannot contain credentials for request mode "cors"|request mode cannot be "same-origin"|redirect mode cannot be "follow" for "no-cors" request|cors failure|local URLs only|only if cached)$/;

/**
 * Rethrows an attempt's error, marked `retryable` when the http adapter's buffered body broke
 * off after a status below 400 ('stream has been aborted'): the caller had none of the body, a
 * network error. Core's `isRetryableFailure` reads such an error by its code (an ECONNRESET
 * after a 200 is retried already); this message it does not know. The fetch adapter's
 * `ERR_NETWORK`, which core reads by its cause (else as a network error), carries undici's own error as its
 * `cause`: marked `retryable: false` when that error is not one to retry as the http adapter
 * would have thrown it (by its code: a Location no URL parser reads, `ERR_INVALID_URL`, a
 * TLS refusal; undici's `bad upgrade`, a `101` answer), or when fetch's rules refused the
 * request (a reason, no code): the same on every try, and no sign of a host in trouble — as the http adapter's
 * `ERR_FR_TOO_MANY_REDIRECTS` is not retried.
 */
export function brokenOff(error: unknown): never {
  const e = error as AxiosError;
  if (!axios.isAxiosError(error)) throw error;
  const cause = e.cause as { message?: unknown; code?: unknown } | undefined;
  // A body over `maxContentLength` fails without a response, whatever its status: the http
  // adapter's request has the status line it read, the fetch adapter's `Request` the status
  // recorded for it. A 503 is then read as the 503 it is (retried, counted by the breaker) as
  // fetch reads it; a 200's stays the client's own refusal.
  const status =
    e.response === undefined
      ? ((e.request as { res?: { statusCode?: unknown } })?.res?.statusCode ?? fetchedStatus(e.request))
      : undefined;
  if (e.code === 'ERR_BAD_RESPONSE' && e.status === undefined && typeof status === 'number' && status >= 400) {
    Object.defineProperty(error, 'status', { value: status, configurable: true, writable: true, enumerable: true });
  }
  if (e.message === 'stream has been aborted' && (e.response?.status ?? 400) < 400) {
    Object.defineProperty(error, 'retryable', { value: true, configurable: true, writable: true });
    // What Node reports for the connection that closed mid-body (a streamed body's error, the
    // fetch adapter's cause): so `classify` calls it `network` through either adapter, not `unknown`.
    if (e.cause === undefined) {
      const reset = Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
      Object.defineProperty(error, 'cause', { value: reset, configurable: true, writable: true });
    }
  } else if (
    e.code === 'ERR_NETWORK' &&
    (typeof cause?.code === 'string'
      ? !isRetryableFailure(cause) || (cause.code === 'UND_ERR_SOCKET' && cause.message === 'bad upgrade')
      : cause?.code === undefined && typeof cause?.message === 'string' && FETCH_RULE.test(cause.message))
  ) {
    Object.defineProperty(error, 'retryable', { value: false, configurable: true, writable: true });
  }
  throw error;
}
