import type { HealthRegistry } from '@resilience/core';

// What the gracefulShutdowns of one process share. An app often serves on two servers (its API
// and a metrics or admin port), each with its own gracefulShutdown on the same signal and the
// same health registry: the first to drain must not exit the process under the other's
// requests, and the second must not register the readiness check again.

const draining = new Set<object>();
let worstCode = 0;
let waiting: Array<(code: number) => void> = [];

/** Counts a shutdown as draining until {@link drained}. */
export function drainingStarted(shutdown: object): void {
  draining.add(shutdown);
}

/** Ends a shutdown's drain (done, timed out or disposed) with its exit code. */
export function drained(shutdown: object, code: number): void {
  if (!draining.delete(shutdown)) return;
  worstCode = Math.max(worstCode, code);
  if (draining.size > 0) return;
  const [woken, worst] = [waiting, worstCode];
  waiting = [];
  worstCode = 0;
  for (const wake of woken) wake(worst);
}

/** Resolves with the worst exit code of the drains ended meanwhile, once no shutdown is draining. */
export function allDrained(): Promise<number> {
  return draining.size === 0 ? Promise.resolve(worstCode) : new Promise((resolve) => waiting.push(resolve));
}

/** The registries whose readiness a shutdown has already turned off. */
const turnedOff = new WeakSet<HealthRegistry>();

/** Runs `turnOff` for the first shutdown of `registry` only. */
export function turnOffOnce(registry: HealthRegistry, turnOff: () => void): void {
  if (turnedOff.has(registry)) return;
  turnOff();
  turnedOff.add(registry);
}
