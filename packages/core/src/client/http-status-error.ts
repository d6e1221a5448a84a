/** An error status (4xx, 5xx) of a client that resolves with it (fetch), as its policies see it (`handle`, `onRetry`). */
export class HttpStatusError<R = unknown> extends Error {
  readonly status: number;
  /** The response's headers, where `Retry-After` is read. */
  readonly headers: unknown;
  /** `undefined` once retried (its body released) or settled (the caller has it). */
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
