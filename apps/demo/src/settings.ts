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
   * How long a checkout saga keeps trying to release a reservation, so a card declined as the
   * outage begins still has its stock released: the longest outage the schedule draws
   * (`LONGEST_OUTAGE_SHARE`, 27.3 % of the run; 30 % here), two breaker waits, one metrics
   * window to spare, and one `releaseBackoffMs`:
   * the retry gives up when its next wait would end past this, so its last try can come that
   * much before it.
   */
  releaseForMs: number;
  /** The longest wait between two tries of a release; a short run's waits are shorter. */
  releaseBackoffMs: number;
  /** The metrics window the alert rules read (the adaptive throttle keeps its own 2-minute window). */
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
  const releaseBackoffMs = halfOpenAfterMs;
  return {
    durationMs: options.durationMs,
    seed: options.seed,
    ratePerApi: 3,
    noisyPerApi: 3,
    halfOpenAfterMs,
    releaseForMs: Math.round(options.durationMs * 0.3) + 2 * halfOpenAfterMs + windowMs + releaseBackoffMs,
    releaseBackoffMs,
    windowMs,
    alertIntervalMs: windowMs / 5,
    adminToken: options.adminToken ?? 'demo-admin-token',
  };
}
