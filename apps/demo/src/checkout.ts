import { backoff, type Clock, retry, type SagaReport, saga, systemClock } from '@resilience/core';
import type { DemoSettings } from './settings.js';
import { type Upstream, UpstreamError } from './upstream.js';

export interface Order {
  orderId: string;
  amount: number;
  card: string;
  requestId: string;
}

/** What an API's checkout sagas ended as. */
export interface SagaCounts {
  completed: number;
  compensated: number;
  compensationFailed: number;
  /** Orders whose card was declined, and of those the ones whose reservation was released. */
  declined: number;
  declinedCompensated: number;
}

/**
 * Checkout as a saga: reserve the stock, then charge the card; when the charge fails (a
 * declined card, or the provider down after the client's retries) the reservation is
 * released. The client policies retry each step's calls; the saga undoes what they could not save.
 */
export function checkout(
  upstream: Upstream,
  options: Pick<DemoSettings, 'releaseForMs' | 'releaseBackoffMs'> & { clock?: Clock },
) {
  const counts: SagaCounts = {
    completed: 0,
    compensated: 0,
    compensationFailed: 0,
    declined: 0,
    declinedCompensated: 0,
  };
  // A release that fails (the provider is down) is tried again for `releaseForMs`, its last try
  // after an outage ends, before the saga reports `compensation_failed`, which needs a human.
  const compensationRetry = retry({
    maxAttempts: 1_000,
    deadlineMs: options.releaseForMs,
    handle: () => true,
    backoff: backoff.exponential({
      initialMs: Math.min(200, options.releaseBackoffMs),
      maxMs: options.releaseBackoffMs,
    }),
    clock: options.clock ?? systemClock,
  });
  const flow = saga<Order>('checkout', { compensationRetry })
    .step({
      name: 'reserve',
      run: ({ input, signal }) => upstream.reserve(input.orderId, { requestId: input.requestId, signal }),
      compensate: ({ input }) => upstream.release(input.orderId, { requestId: input.requestId }),
    })
    .step({
      name: 'charge',
      run: ({ input, signal }) =>
        upstream.charge(
          { orderId: input.orderId, amount: input.amount, card: input.card },
          { requestId: input.requestId, signal },
        ),
    });
  return {
    counts,
    /** Counts from zero again: the run's sagas, not the warm-up's. */
    resetCounts(): void {
      for (const key of Object.keys(counts) as (keyof SagaCounts)[]) counts[key] = 0;
    },
    /** Runs the saga; resolves with the charge, or rejects with the step's error once undone. */
    async run(order: Order, signal?: AbortSignal): Promise<{ orderId: string; chargeId: string }> {
      const report: SagaReport = await flow.execute(order, signal ? { signal } : {});
      if (report.status === 'completed') counts.completed++;
      else if (report.status === 'compensation_failed') counts.compensationFailed++;
      else counts.compensated++;
      if (report.error instanceof UpstreamError && report.error.status === 402) {
        counts.declined++;
        if (report.status === 'compensated') counts.declinedCompensated++;
      }
      if (report.status !== 'completed') throw report.error;
      const { chargeId } = report.results.charge as { chargeId: string };
      return { orderId: order.orderId, chargeId };
    },
  };
}
