import type { Clock } from '@resilience/core';
import type { RateLimitUsage } from './options.js';

/**
 * `usage` read at most once at a time and waited on for at most `timeoutMs`: a collection
 * while a call is pending waits on that call, so a hung store holds one call, never one per
 * collection, and no collection waits on it longer than `timeoutMs`.
 */
export function boundedUsage(
  usage: () => RateLimitUsage | PromiseLike<RateLimitUsage>,
  timeoutMs: number,
  clock: Clock,
): () => Promise<RateLimitUsage> {
  let pending: Promise<RateLimitUsage> | undefined;
  return () => {
    pending ??= Promise.resolve()
      .then(usage)
      .finally(() => {
        pending = undefined;
      });
    let expire: (reason: Error) => void = () => {};
    const late = new Promise<never>((_, reject) => {
      expire = reject;
    });
    const timer = clock.setTimeout(() => expire(new Error(`usage() did not settle within ${timeoutMs} ms`)), timeoutMs);
    (timer as { unref?: () => void }).unref?.(); // a collection waiting on a hung source keeps no process alive
    return Promise.race([pending, late]).finally(() => clock.clearTimeout(timer));
  };
}
