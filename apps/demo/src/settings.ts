/** The demo's knobs, scaled from the run's length so a short test run keeps the same shape. */
export interface DemoSettings {
  durationMs: number;
  seed: number;
  /** Requests a second each API gets from the well-behaved clients. */
  ratePerApi: number;
  /** Requests a second each API gets from the noisy client, above its rate limit. */
  noisyPerApi: number;
  /** The client breakers' wait before a probe. */
  halfOpenAfterMs: number;
  /**
   * How long a checkout saga keeps trying to release a reservation: past the longest outage
   * the schedule draws (a share of 0.2 ± 20 % of a total of at least 0.88: 27.3 % of the run)
   * and two breaker waits, so a card declined as the outage begins still has its stock released.
   */
  releaseForMs: number;
  /** The metrics window the alert rules read, and the adaptive throttle's window. */
  windowMs: number;
  /** How often the alert rules are evaluated. */
  alertIntervalMs: number;
  /** The bearer token of the admin routes. */
  adminToken: string;
}

/** Each client's quota at each API (shared by its instances with --redis): bursts of 5, 2 requests a second sustained. */
export const PER_CLIENT = { capacity: 5, refillPerSecond: 2 } as const;

export const DEFAULT_DURATION_S = 60;
export const DEFAULT_SEED = 42;

const clamp = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value));

export function demoSettings(options: { durationMs: number; seed: number; adminToken?: string }): DemoSettings {
  const windowMs = clamp(options.durationMs / 20, 500, 5_000);
  const halfOpenAfterMs = clamp(options.durationMs / 30, 250, 2_000);
  return {
    durationMs: options.durationMs,
    seed: options.seed,
    ratePerApi: 3,
    noisyPerApi: 3,
    halfOpenAfterMs,
    releaseForMs: Math.round(options.durationMs * 0.3) + 2 * halfOpenAfterMs,
    windowMs,
    alertIntervalMs: windowMs / 5,
    adminToken: options.adminToken ?? 'demo-admin-token',
  };
}
