/**
 * An error status (4xx, 5xx) of an HTTP client that resolves with it (fetch), as the client's
 * policies see it (`handle`, `onRetry`, events). The caller gets the response itself.
 */
export class HttpStatusError<R = unknown> extends Error {
  readonly status: number;
  /** The response's headers, where `Retry-After` is read. */
  readonly headers: unknown;
  /** Let go (`undefined`) once the request settled: the caller has it. */
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
