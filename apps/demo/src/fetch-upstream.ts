import type { Clock, MetricsCollector, ResilientClient } from '@resilience/core';
import { withResilience } from '@resilience/fetch';
import type { ClientPolicies } from './client-policies.js';
import { recorded, type Upstream, type UpstreamCall, UpstreamError } from './upstream.js';

/** The provider through the resilient `fetch`. */
export function fetchUpstream(
  baseURL: string,
  policies: ClientPolicies,
  stats: MetricsCollector,
  clock: Clock,
): Upstream {
  const api = withResilience(fetch, policies);
  const send = <T>(call: UpstreamCall, path: string, method = 'GET', body?: object) =>
    recorded(stats, clock, async () => {
      const response = await api(`${baseURL}${path}`, {
        method,
        headers: { 'x-request-id': call.requestId, ...(body && { 'content-type': 'application/json' }) },
        ...(body && { body: JSON.stringify(body) }),
        ...(call.signal && { signal: call.signal }),
      });
      if (!response.ok) {
        await response.body?.cancel();
        throw new UpstreamError(response.status);
      }
      return (response.status === 204 ? undefined : await response.json()) as T;
    });
  return {
    quote: (call) => send(call, '/v1/quote'),
    reserve: (orderId, call) => send(call, '/v1/reservations', 'POST', { orderId }),
    release: (orderId, call) => send(call, `/v1/reservations/${orderId}`, 'DELETE'),
    charge: (order, call) => send(call, '/v1/charges', 'POST', order),
    client: api.client as unknown as ResilientClient<never, unknown>,
  };
}
