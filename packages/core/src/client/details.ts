import type { BreakerStateName } from '../breaker/options.js';

/** What a resilient client attaches to the error it rejects with (and the response it returns). */
export interface ClientDetails {
  /** The host (or `key`) whose policies ran the request. */
  readonly host: string;
  /** Attempts made, the first (or one refused locally) included. */
  readonly attempts: number;
  /** Milliseconds spent waiting between attempts (backoff and `Retry-After`). */
  readonly totalDelayMs: number;
  /** The host's breaker state at the end; absent without a breaker. */
  readonly breakerState?: BreakerStateName;
}

/** Attaches `details` as the `resilience` property of an error or response; a frozen or primitive value is left alone. */
export function attachDetails(value: unknown, details: ClientDetails): void {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null || !Object.isExtensible(value))
    return;
  Object.defineProperty(value, 'resilience', { value: details, enumerable: true, configurable: true, writable: true });
}

/**
 * The details a resilient client attached to the error or response it gave; else `undefined`.
 * @example log.warn({ attempts: resilienceDetails(error)?.attempts }, 'gave up');
 */
export function resilienceDetails(value: unknown): ClientDetails | undefined {
  const details = (value as { resilience?: unknown } | null | undefined)?.resilience;
  return typeof details === 'object' && details !== null && typeof (details as ClientDetails).attempts === 'number'
    ? (details as ClientDetails)
    : undefined;
}
