import type { Random } from '@resilience/core';
import { seededRandom } from '@resilience/core/testing';

/** The provider's phases, in the order the demo runs them. */
export const PHASE_NAMES = ['healthy', 'transient', 'throttling', 'outage', 'recovery'] as const;
export type PhaseName = (typeof PHASE_NAMES)[number];

/** A fault the provider injects into one answer. */
export type Fault = 'error_500' | 'error_502' | 'error_503' | 'drop' | 'slow' | 'throttle_429' | 'outage';

/** Faults a client is expected to ride out; an outage is not one of them. */
export const TRANSIENT_FAULTS: readonly Fault[] = [
  'error_500',
  'error_502',
  'error_503',
  'drop',
  'slow',
  'throttle_429',
];

export interface Phase {
  name: PhaseName;
  startMs: number;
  endMs: number;
  /** Share of answers that carry a fault, and how those faults are split. */
  faultRate: number;
  faults: Partial<Record<Fault, number>>;
  /** `Retry-After` (seconds) on a 429. */
  retryAfterS: number;
}

/** The default share of the run each phase takes, before the seed moves it by up to ±20 %. */
const SHARES: Record<PhaseName, number> = {
  healthy: 0.15,
  transient: 0.25,
  throttling: 0.2,
  outage: 0.2,
  recovery: 0.2,
};

/**
 * The largest share of a run the outage can take: its share at +20 % over a total whose other
 * shares are all at -20 % (0.24 / 0.88, 27.3 %). The client policies and the checkout saga wait
 * out an outage this long.
 */
export const LONGEST_OUTAGE_SHARE = (() => {
  const others = PHASE_NAMES.reduce((sum, name) => (name === 'outage' ? sum : sum + SHARES[name]), 0);
  return (SHARES.outage * 1.2) / (SHARES.outage * 1.2 + others * 0.8);
})();

/** Share of answers with a fault in the transient phase (the 30 %) and the throttling phase. */
export const TRANSIENT_FAULT_RATE = 0.3;
export const THROTTLE_RATE = 0.25;

/**
 * The provider's schedule for a run of `durationMs`: the same seed gives the same phase
 * lengths and the same mix of faults in the transient phase.
 */
export function schedule(seed: number, durationMs: number): Phase[] {
  const random = seededRandom(seed);
  const jittered = PHASE_NAMES.map((name) => SHARES[name] * (0.8 + 0.4 * random()));
  const total = jittered.reduce((sum, share) => sum + share, 0);
  const mix = transientMix(random);
  let startMs = 0;
  return PHASE_NAMES.map((name, i) => {
    const endMs = i === PHASE_NAMES.length - 1 ? durationMs : startMs + Math.round((durationMs * jittered[i]!) / total);
    const phase: Phase = { name, startMs, endMs, ...FAULTS[name](mix), retryAfterS: 1 };
    startMs = endMs;
    return phase;
  });
}

const FAULTS: Record<PhaseName, (mix: Phase['faults']) => Pick<Phase, 'faultRate' | 'faults'>> = {
  healthy: () => ({ faultRate: 0, faults: {} }),
  transient: (mix) => ({ faultRate: TRANSIENT_FAULT_RATE, faults: mix }),
  throttling: () => ({ faultRate: THROTTLE_RATE, faults: { throttle_429: 1 } }),
  outage: () => ({ faultRate: 1, faults: { outage: 1 } }),
  recovery: () => ({ faultRate: 0, faults: {} }),
};

/** The transient phase's split between 5xx answers, dropped connections and answers too slow to wait for. */
function transientMix(random: Random): Phase['faults'] {
  const weights = { error_500: 1, error_502: 1, error_503: 1, drop: 1, slow: 1 };
  for (const fault of Object.keys(weights) as (keyof typeof weights)[]) weights[fault] = 0.5 + random();
  const total = Object.values(weights).reduce((sum, w) => sum + w, 0);
  return Object.fromEntries(Object.entries(weights).map(([fault, w]) => [fault, w / total]));
}

/** The phase at `elapsedMs` into the run (the last one after it ends). */
export function phaseAt(phases: readonly Phase[], elapsedMs: number): Phase {
  return phases.find((p) => elapsedMs < p.endMs) ?? phases[phases.length - 1]!;
}

/** Which fault, if any, one answer in `phase` carries. */
export function drawFault(phase: Phase, random: Random): Fault | undefined {
  if (random() >= phase.faultRate) return undefined;
  let point = random();
  const entries = Object.entries(phase.faults) as [Fault, number][];
  for (const [fault, weight] of entries) {
    if (point < weight) return fault;
    point -= weight;
  }
  return entries[entries.length - 1]?.[0];
}
