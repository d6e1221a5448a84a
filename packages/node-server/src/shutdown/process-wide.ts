import type { HealthRegistry } from '@resilience/core';
import { processWide } from '@resilience/core/internal';

// What the gracefulShutdowns of one process share. An app often serves on two servers (its API
// and a metrics or admin port), each with its own gracefulShutdown on the same signal and the
// same health registry: the first to drain must not exit the process under the other's
// requests, and the second must not register the readiness check again.

// Kept on the process, not in this module: @resilience/express and @resilience/koa each
// bundle this file, and an app may load a package both as ESM and as CommonJS. Every copy
// finds the same state under one registered symbol (versioned, should its shape change).

interface ProcessWide {
  readonly draining: Set<object>;
  worstCode: number;
  waiting: Array<(code: number) => void>;
  /** The registries whose readiness a shutdown has already turned off. */
  readonly turnedOff: WeakSet<HealthRegistry>;
}

const shared: ProcessWide = processWide('@resilience/graceful-shutdown.v1', () => ({
  draining: new Set(),
  worstCode: 0,
  waiting: [],
  turnedOff: new WeakSet(),
}));
const { draining } = shared;
/** The registries whose readiness a shutdown turned off (their health routes then answer 503 at once). */
export const { turnedOff } = shared;

/** Counts a shutdown as draining until {@link drained}. */
export function drainingStarted(shutdown: object): void {
  draining.add(shutdown);
}

/** Ends a shutdown's drain (done, timed out or disposed) with its exit code. */
export function drained(shutdown: object, code: number): void {
  if (!draining.delete(shutdown)) return;
  shared.worstCode = Math.max(shared.worstCode, code);
  if (draining.size > 0) return;
  const [woken, worst] = [shared.waiting, shared.worstCode];
  shared.waiting = [];
  shared.worstCode = 0;
  for (const wake of woken) wake(worst);
}

/** Resolves with the worst exit code of the drains ended meanwhile, once no shutdown is draining. */
export function allDrained(): Promise<number> {
  return draining.size === 0
    ? Promise.resolve(shared.worstCode)
    : new Promise((resolve) => shared.waiting.push(resolve));
}

/** Runs `turnOff` for the first shutdown of `registry` only. */
export function turnOffOnce(registry: HealthRegistry, turnOff: () => void): void {
  if (turnedOff.has(registry)) return;
  turnOff();
  turnedOff.add(registry);
}
