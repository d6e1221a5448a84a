// Test helpers for the client pipeline: a scripted transport over plain response objects.
import type { ClientAttempt, ClientCall, ClientTransport } from '../client/client.js';

export interface FakeResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  discarded?: boolean;
}

export const transport: ClientTransport<FakeResponse> = {
  status: (r) => r.status,
  headers: (r) => r.headers,
  discard: (r) => {
    r.discarded = true;
  },
};

type Outcome = number | Error | FakeResponse | (() => Promise<FakeResponse>);

/** A `send` answering with `outcomes` in turn (a status, a response, an error or a function), the last one repeated. */
export function script(...outcomes: Outcome[]) {
  const attempts: ClientAttempt[] = [];
  const responses: FakeResponse[] = [];
  const send = (attempt: ClientAttempt): Promise<FakeResponse> => {
    const next = outcomes[Math.min(attempts.length, outcomes.length - 1)]!;
    attempts.push(attempt);
    if (next instanceof Error) return Promise.reject(next);
    if (typeof next === 'function') return next();
    const response = typeof next === 'number' ? { status: next, headers: {} } : { ...next };
    responses.push(response);
    return Promise.resolve(response);
  };
  return { send, attempts, responses };
}

/** A call for `method url`, with optional request headers. */
export function call(
  method: string,
  url: string,
  headers: Record<string, string> = {},
  extra: Partial<ClientCall<{ method: string; url: string }>> = {},
): ClientCall<{ method: string; url: string }> {
  return {
    request: { method, url },
    method,
    url,
    header: (name) => headers[name.toLowerCase()] ?? null,
    ...extra,
  };
}

/** Lets promise continuations and I/O callbacks run, `turns` times (no timers, no sleeping). */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
