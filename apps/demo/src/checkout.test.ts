// The checkout saga's counts, which the summary reports: the run's orders only.
import { describe, expect, it } from 'vitest';
import { checkout } from './checkout.js';
import { type Upstream, UpstreamError } from './upstream.js';

/** A provider that takes every reservation and declines one card. */
const upstream = {
  reserve: async (orderId: string) => ({ reservationId: `r-${orderId}` }),
  release: async () => {},
  charge: async (order: { orderId: string; card: string }) => {
    if (order.card === 'declined') throw new UpstreamError(402);
    return { chargeId: `c-${order.orderId}` };
  },
} as unknown as Upstream;

const order = (orderId: string, card = 'ok') => ({ orderId, amount: 1, card, requestId: orderId });

describe('checkout', () => {
  it("counts from zero again after resetCounts(): the warm-up's orders are not the run's", async () => {
    const orders = checkout(upstream);
    await orders.run(order('warm-up-1'));
    await expect(orders.run(order('warm-up-2', 'declined'))).rejects.toThrow(UpstreamError);
    expect(orders.counts).toMatchObject({ completed: 1, compensated: 1, declined: 1, declinedCompensated: 1 });
    orders.resetCounts();
    await orders.run(order('order-1'));
    expect(orders.counts).toEqual({
      completed: 1,
      compensated: 0,
      compensationFailed: 0,
      declined: 0,
      declinedCompensated: 0,
    });
  });
});
