import type { Clock, MetricsCollector, ResilientClient } from '@resilience/core';

/** What an API asks of the provider; one implementation over axios, one over fetch. */
export interface Upstream {
  quote(call: UpstreamCall): Promise<{ price: number }>;
  reserve(orderId: string, call: UpstreamCall): Promise<unknown>;
  release(orderId: string, call: UpstreamCall): Promise<void>;
  charge(order: { orderId: string; amount: number; card: string }, call: UpstreamCall): Promise<{ chargeId: string }>;
  /** The client adapter's per-host policies, for their breaker events. */
  readonly client: ResilientClient<never, unknown>;
}

/** The demo request an upstream call is made for: its id travels as `X-Request-Id`. */
export interface UpstreamCall {
  requestId: string;
  signal?: AbortSignal;
}

/**
 * The provider answered with an error status (after the client's retries). A declined card
 * (402) keeps its status; any other answer is the API's 502, as a gateway reports an
 * upstream that failed.
 */
export class UpstreamError extends Error {
  readonly status: number;
  readonly upstreamStatus: number;

  constructor(upstreamStatus: number) {
    super(`the provider answered ${upstreamStatus}`);
    this.upstreamStatus = upstreamStatus;
    this.status = upstreamStatus === 402 ? 402 : 502;
  }

  override get name(): string {
    return 'UpstreamError';
  }
}

/** Runs one upstream call and records its outcome in `stats`, which the alert rules read. */
export async function recorded<T>(stats: MetricsCollector, clock: Clock, call: () => Promise<T>): Promise<T> {
  const started = clock.now();
  try {
    const value = await call();
    stats.recordCall({ latencyMs: clock.now() - started, ok: true });
    return value;
  } catch (error) {
    const declined = error instanceof UpstreamError && error.status === 402;
    stats.recordCall({ latencyMs: clock.now() - started, ok: declined, error });
    throw error;
  }
}
