import { type Clock, type TimeoutStrategy, timeout } from '@resilience/core';
import { OptionsValidator, refuseSignal } from '@resilience/core/internal';
import type { TRPCLink } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { built } from '../built.js';
import { promiseLink, SIGNAL_HINT } from './operation.js';

export interface TimeoutLinkOptions {
  /** The time limit of each query and mutation, in ms. */
  ms: number;
  /** `cooperative` waits for the links below to stop and takes their late result. @default 'aggressive' */
  strategy?: TimeoutStrategy;
  clock?: Clock;
}

const OPTION_NAMES = { ms: true, strategy: true, clock: true } as const;

/**
 * Bounds each query and mutation in time: at `ms` the operation's signal aborts (`httpLink`
 * cancels the request) and the call fails with a `TRPCClientError` whose cause is a
 * `TimeoutError`, which `retryLink` placed before it retries. Subscriptions pass through.
 *
 * @example
 * links: [retryLink(), timeoutLink({ ms: 5_000 }), httpBatchLink({ url })]
 */
export function timeoutLink<TRouter extends AnyRouter = AnyRouter>(options: TimeoutLinkOptions): TRPCLink<TRouter> {
  const v = new OptionsValidator('timeoutLink');
  refuseSignal(v, options, SIGNAL_HINT);
  const o = v.known(options, OPTION_NAMES);
  v.required('ms', o.ms).number('ms', o.ms, { gt: 0 });
  // `strategy` and `clock` as given, a falsy one too: timeout() names what is bad.
  const { ms, ...rest } = o as TimeoutLinkOptions;
  const policy = built(v, undefined, ['ms'], () => timeout(ms, { ...rest, name: 'trpc-timeout' }));
  const link = promiseLink(
    () => true,
    (op, send, outer) => policy.execute(({ signal }) => send({ ...op, signal }), outer),
  );
  return () => link;
}
