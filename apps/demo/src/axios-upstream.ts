import { withResilience } from '@resilience/axios';
import type { Clock, MetricsCollector, ResilientClient } from '@resilience/core';
import axios, { isAxiosError } from 'axios';
import type { ClientPolicies } from './client-policies.js';
import { recorded, type Upstream, type UpstreamCall, UpstreamError } from './upstream.js';

/** The provider through axios, with the demo's client policies installed on its own instance. */
export function axiosUpstream(
  baseURL: string,
  policies: ClientPolicies,
  stats: MetricsCollector,
  clock: Clock,
): Upstream {
  const api = withResilience(axios.create({ baseURL }), policies);
  const send = <T>(request: () => Promise<{ data: T }>) =>
    recorded(stats, clock, async () => {
      try {
        return (await request()).data;
      } catch (error) {
        if (isAxiosError(error) && error.response) throw new UpstreamError(error.response.status);
        throw error;
      }
    });
  const config = (call: UpstreamCall) => ({ headers: { 'x-request-id': call.requestId }, signal: call.signal });
  return {
    quote: (call) => send(() => api.get<{ price: number }>('/v1/quote', config(call))),
    reserve: (orderId, call) => send(() => api.post('/v1/reservations', { orderId }, config(call))),
    release: async (orderId, call) => {
      await send(() => api.delete(`/v1/reservations/${orderId}`, config(call)));
    },
    charge: (order, call) => send(() => api.post<{ chargeId: string }>('/v1/charges', order, config(call))),
    client: api.client as unknown as ResilientClient<never, unknown>,
  };
}
