import { type ClientOptions, type ResilientClient, resilientClient } from '@resilience/core';
import { OptionsValidator, refuseSignal } from '@resilience/core/internal';
import type { Operation, TRPCLink } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { built, isPlainObject } from '../built.js';
import { type Envelope, promiseLink, SIGNAL_HINT } from './operation.js';

export interface CircuitBreakerLinkOptions {
  /** `circuitBreaker()`'s options; `handle` counts what `isRetryableFailure` retries (a 4xx but 408, 425 and 429 is the server working), a 5xx but 501 and 505, and an answer that is no HTTP. */
  breaker: NonNullable<ClientOptions['breaker']>;
  /** Which breaker an operation goes through. @default op.path: one breaker per procedure */
  key?: (op: Operation) => string;
  /** Most breakers kept; past it the least recently used is dropped. @default 100 */
  maxKeys?: number;
  /** Breakers are named `<name>:<key>` (unless `breaker.name` is given). @default 'trpc' */
  name?: string;
  clock?: ClientOptions['clock'];
  random?: ClientOptions['random'];
}

/** A `TRPCLink` with the client that keeps its breakers (`link.client.host(key)?.breaker`). */
export type CircuitBreakerLink<TRouter extends AnyRouter> = TRPCLink<TRouter> & {
  readonly client: ResilientClient<Operation, Envelope>;
};

const OPTION_NAMES = { breaker: true, key: true, maxKeys: true, name: true, clock: true, random: true } as const;

/** Defaults of `circuitBreakerLink`. */
export const CIRCUIT_BREAKER_LINK_DEFAULTS = { maxKeys: 100, name: 'trpc' } as const;

const byPath = (op: Operation) => op.path;

/**
 * A circuit breaker per procedure (or per `key(op)`): while one is open, its queries and
 * mutations fail at once with a `TRPCClientError` whose cause is `BrokenCircuitError`, and
 * nothing is sent; after `halfOpenAfter` one probe goes through. Subscriptions pass through.
 *
 * @example
 * links: [retryLink(), circuitBreakerLink({ breaker: { strategy: consecutive(5) } }), httpBatchLink({ url })]
 */
export function circuitBreakerLink<TRouter extends AnyRouter = AnyRouter>(
  options: CircuitBreakerLinkOptions,
): CircuitBreakerLink<TRouter> {
  const v = new OptionsValidator('circuitBreakerLink');
  refuseSignal(v, options, SIGNAL_HINT, 'breaker');
  const o = v.known(options, OPTION_NAMES);
  v.check(isPlainObject(o.breaker), 'breaker', o.breaker, 'circuitBreaker() options');
  v.predicate('key', o.key); // an async one answers a promise: no key
  v.integer('maxKeys', o.maxKeys, { min: 1 });
  v.string('name', o.name);
  v.clock('clock', o.clock);
  v.function('random', o.random);
  // The `breaker` options are checked by the client, in the link's error; a bad option the
  // client is handed too (key, maxKeys, name, clock, random) is reported once, as the link's.
  const client = built(v, undefined, ['breaker', 'key', 'maxKeys', 'name', 'clock', 'random'], () =>
    resilientClient<Operation, Envelope>({
      retry: false,
      breaker: options.breaker,
      key: options.key ?? byPath,
      maxHosts: options.maxKeys ?? CIRCUIT_BREAKER_LINK_DEFAULTS.maxKeys,
      name: options.name ?? CIRCUIT_BREAKER_LINK_DEFAULTS.name,
      ...(options.clock && { clock: options.clock }),
      ...(options.random && { random: options.random }),
    }),
  );
  const link = promiseLink(
    () => true,
    (op, send, signal) =>
      client.request({ request: op, method: op.type === 'query' ? 'GET' : 'POST', url: op.path, signal }, () =>
        send(op),
      ),
  );
  return Object.assign(() => link, { client });
}
