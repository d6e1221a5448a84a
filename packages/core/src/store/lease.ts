import type { Clock, TimerHandle } from '../clock/clock.js';

/**
 * Keeps a claim held in a store alive: calls `renew` every `everyMs` until the returned
 * function is called, or until `renew` resolves `false` (the claim was lost: renewing it
 * cannot help). A rejected renewal (the store is unreachable) is tried again at the next
 * tick, so a short outage does not give the claim up while the lease still runs.
 */
export function keepRenewing(clock: Clock, everyMs: number, renew: () => Promise<boolean>): () => void {
  let stopped = false;
  let timer: TimerHandle | undefined;
  const tick = () => {
    timer = undefined;
    renew().then(
      (held) => {
        if (held && !stopped) timer = clock.setTimeout(tick, everyMs);
      },
      () => {
        if (!stopped) timer = clock.setTimeout(tick, everyMs);
      },
    );
  };
  timer = clock.setTimeout(tick, everyMs);
  return () => {
    stopped = true;
    if (timer !== undefined) clock.clearTimeout(timer);
  };
}
