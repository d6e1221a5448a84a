/**
 * An HTTP answer with an error status (4xx, 5xx), as the client's policies see it when the
 * HTTP client resolves with it (fetch) instead of rejecting: `retry`'s and `breaker`'s
 * `handle`, `onRetry` and events receive it, `statusOf` and `retryAfterMs` read it. The
 * caller never does: at the end the response itself is returned.
 */
export class HttpStatusError<R = unknown> extends Error {
  readonly status: number;
  /** The response's headers, where `Retry-After` is read. */
  readonly headers: unknown;
  readonly response: R;

  constructor(status: number, headers: unknown, response: R) {
    super(`HTTP ${status}`);
    this.status = status;
    this.headers = headers;
    this.response = response;
  }

  override get name(): string {
    return 'HttpStatusError';
  }
}
