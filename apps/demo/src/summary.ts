import type { SagaCounts } from './checkout.js';
import type { Sample } from './load.js';
import { type Phase, type PhaseName, TRANSIENT_FAULTS } from './schedule.js';
import { PER_CLIENT } from './settings.js';
import { API_NAMES, type ApiName } from './targets.js';

/** What the run leaves behind, besides the samples: read from the APIs after the load. */
export interface RunFacts {
  seed: number;
  durationMs: number;
  wallMs: number;
  phases: readonly Phase[];
  samples: readonly Sample[];
  skipped: number;
  /** `opensInOutage`: the opens from the outage's start to its end; `lastClosedMs` on the run's clock. */
  breakers: Record<
    ApiName,
    { opens: number; opensInOutage: number; recoveries: number; state: string; lastClosedMs?: number }
  >;
  /** `firedInOutage`: the firings from the outage's start to one metrics window after its end (the rules read a trailing window). */
  alerts: Record<ApiName, { fired: number; firedInOutage: number; resolved: number; active: number; names: string[] }>;
  sagas: Record<ApiName, SagaCounts>;
  /** Calls the provider got, faults it injected into them, and retries the APIs' clients made. */
  provider: { calls: number; injected: number; retries: number };
  /** Instances of each API: 1, or 2 sharing a store (--redis). */
  instances: number;
}

export interface Figures {
  requests: number;
  successRate: number;
  p50: number;
  p95: number;
  p99: number;
}

export interface Target {
  name: string;
  ok: boolean;
  /** What was measured, in words. */
  value: string;
}

export interface Summary {
  seed: number;
  durationS: number;
  wallS: number;
  phases: (Figures & { name: PhaseName; startS: number; endS: number; byApi: Record<ApiName, Figures> })[];
  apis: (Figures & { name: ApiName })[];
  /** `failures`: why the requests that met a transient fault and still failed did, counted by cause. */
  recovery: { met: number; recovered: number; rate: number; failures: Record<string, number> };
  breakers: { opens: number; recoveries: number; openAtEnd: string[] };
  rateLimited: { noisy: number; noisySent: number; wellBehaved: number };
  replays: { sent: number; matched: number };
  alerts: { fired: number; firedInOutage: number; resolved: number; active: number; names: string[] };
  sagas: SagaCounts;
  provider: { calls: number; injected: number; retries: number };
  /** The noisy client's requests each API let through, against what its quota allows over the same span. */
  sharedLimit: { instances: number; byApi: Record<ApiName, { admitted: number; limit: number }> };
  skipped: number;
  targets: Target[];
  ok: boolean;
}

/** Targets the demo holds itself to. */
export const TARGETS = { recoveryRate: 0.99, healthySuccess: 0.99, afterCloseSuccess: 0.99, minFaultsMet: 5 } as const;

const succeeded = (s: Sample) => s.outcome === 'ok' || s.outcome === 'declined';

/** The nearest-rank percentile of `values` (0 for none). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function figures(samples: readonly Sample[]): Figures {
  const latencies = samples.map((s) => s.latencyMs);
  return {
    requests: samples.length,
    successRate: samples.length === 0 ? 1 : samples.filter(succeeded).length / samples.length,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
  };
}

/**
 * A request "met a transient fault" when the provider injected at least one transient fault
 * (5xx, 429, a dropped connection, a slow answer) into the upstream calls made for it (the
 * provider tags each fault with the request's id and the load generator joins them), and it
 * did not meet the outage: no upstream call of it hit the outage and it was not in flight
 * during the outage phase (its breaker may have refused it without a call). Recovered means
 * the client still got its answer.
 */
export function recoveryOf(samples: readonly Sample[], phases: readonly Phase[]): Summary['recovery'] {
  const met = samples.filter(
    (s) =>
      !s.noisy &&
      s.faults.some((f) => TRANSIENT_FAULTS.includes(f)) &&
      !s.faults.includes('outage') &&
      !inOutage(s, phases),
  );
  const recovered = met.filter(succeeded).length;
  const failures: Record<string, number> = {};
  for (const s of met.filter((s) => !succeeded(s))) {
    const cause = `${s.status} ${s.cause ?? ''} (met ${s.faults.join(', ')})`;
    failures[cause] = (failures[cause] ?? 0) + 1;
  }
  return { met: met.length, recovered, rate: met.length === 0 ? 1 : recovered / met.length, failures };
}

/** Whether a request was in flight during the outage phase. */
function inOutage(s: Sample, phases: readonly Phase[]): boolean {
  const outage = phases.find((p) => p.name === 'outage');
  return outage !== undefined && s.startMs < outage.endMs && s.startMs + s.latencyMs > outage.startMs;
}

/**
 * A token bucket admits at most `capacity + refill × t` requests of a key over t seconds,
 * however many instances share it. The requests answered by any time were admitted between
 * the first request's sending and then, so the bound holds at every admitted answer: judged
 * only at the last one, a single slow answer stretched the span until two unshared buckets
 * passed. The figures are those of the answer where the count is furthest above the bound
 * (the last answer's when it is nowhere above it).
 */
export function admittedOf(noisy: readonly Sample[]): Summary['sharedLimit']['byApi'] {
  const bound = (spanMs: number) => Math.floor(PER_CLIENT.capacity + (PER_CLIENT.refillPerSecond * spanMs) / 1_000);
  return Object.fromEntries(
    API_NAMES.map((api) => {
      const sent = noisy.filter((s) => s.api === api);
      const first = Math.min(...sent.map((s) => s.startMs));
      const answers = sent
        .filter((s) => s.outcome !== 'rate_limited')
        .map((s) => s.startMs + s.latencyMs)
        .sort((a, b) => a - b);
      let worst = { admitted: answers.length, limit: answers.length === 0 ? bound(0) : bound(answers.at(-1)! - first) };
      for (const [i, answeredAt] of answers.entries()) {
        const limit = bound(answeredAt - first);
        const excess = i + 1 - limit;
        if (excess > 0 && excess >= worst.admitted - worst.limit) worst = { admitted: i + 1, limit };
      }
      return [api, worst];
    }),
  ) as Summary['sharedLimit']['byApi'];
}

const sum = <K extends string>(records: Record<ApiName, Record<K, number>>, key: K) =>
  API_NAMES.reduce((total, api) => total + records[api][key], 0);

const pct = (rate: number) => `${(rate * 100).toFixed(2)} %`;

export function summarize(facts: RunFacts): Summary {
  const good = facts.samples.filter((s) => !s.noisy && s.kind !== 'replay');
  const ofApi = (samples: readonly Sample[]) =>
    Object.fromEntries(API_NAMES.map((api) => [api, figures(samples.filter((s) => s.api === api))])) as Record<
      ApiName,
      Figures
    >;
  const phases = facts.phases.map((phase) => {
    const inPhase = good.filter((s) => s.phase === phase.name);
    return {
      name: phase.name,
      startS: phase.startMs / 1_000,
      endS: phase.endMs / 1_000,
      ...figures(inPhase),
      byApi: ofApi(inPhase),
    };
  });
  const noisy = facts.samples.filter((s) => s.noisy);
  const replays = facts.samples.filter((s) => s.kind === 'replay');
  const alertNames = [...new Set(API_NAMES.flatMap((api) => facts.alerts[api].names))];
  const summary: Omit<Summary, 'targets' | 'ok'> = {
    seed: facts.seed,
    durationS: facts.durationMs / 1_000,
    wallS: facts.wallMs / 1_000,
    phases,
    apis: API_NAMES.map((name) => ({ name, ...figures(good.filter((s) => s.api === name)) })),
    recovery: recoveryOf(facts.samples, facts.phases),
    breakers: {
      opens: sum(facts.breakers, 'opens'),
      recoveries: sum(facts.breakers, 'recoveries'),
      openAtEnd: API_NAMES.filter((api) => facts.breakers[api].state !== 'closed'),
    },
    rateLimited: {
      noisy: noisy.filter((s) => s.outcome === 'rate_limited').length,
      noisySent: noisy.length,
      wellBehaved: facts.samples.filter((s) => !s.noisy && s.outcome === 'rate_limited').length,
    },
    replays: { sent: replays.length, matched: replays.filter((s) => s.replayMatched).length },
    alerts: {
      fired: sum(facts.alerts, 'fired'),
      firedInOutage: sum(facts.alerts, 'firedInOutage'),
      resolved: sum(facts.alerts, 'resolved'),
      active: sum(facts.alerts, 'active'),
      names: alertNames,
    },
    sagas: {
      completed: sum(facts.sagas, 'completed'),
      compensated: sum(facts.sagas, 'compensated'),
      compensationFailed: sum(facts.sagas, 'compensationFailed'),
      declined: sum(facts.sagas, 'declined'),
      declinedCompensated: sum(facts.sagas, 'declinedCompensated'),
    },
    provider: facts.provider,
    sharedLimit: { instances: facts.instances, byApi: admittedOf(noisy) },
    skipped: facts.skipped,
  };
  const targets = judge(summary, facts, good);
  return { ...summary, targets, ok: targets.every((t) => t.ok) };
}

/** What a target missed for want of requests says to try. */
const SHORT = 'a longer --duration';

function judge(s: Omit<Summary, 'targets' | 'ok'>, facts: RunFacts, good: readonly Sample[]): Target[] {
  // Judged on the requests that were over before the outage began (on a starved machine a
  // slow one can still be waiting when the provider goes down).
  const healthy = figures(good.filter((sample) => sample.phase === 'healthy' && !inOutage(sample, facts.phases)));
  const afterClose = good.filter((sample) => {
    const closed = facts.breakers[sample.api].lastClosedMs;
    return sample.phase === 'recovery' && closed !== undefined && sample.startMs >= closed;
  });
  const afterCloseRate = figures(afterClose).successRate;
  // Each API's own breaker, in the outage: an open or a close in the transient phase says nothing of it.
  const outageStartMs = facts.phases.find((p) => p.name === 'outage')?.startMs ?? 0;
  const unopened = API_NAMES.filter((api) => facts.breakers[api].opensInOutage === 0);
  const unclosed = API_NAMES.filter(
    (api) => facts.breakers[api].state !== 'closed' || !((facts.breakers[api].lastClosedMs ?? -1) >= outageStartMs),
  );
  const opensInOutage = API_NAMES.reduce((n, api) => n + facts.breakers[api].opensInOutage, 0);
  return [
    {
      name: `recovery rate on transient faults ≥ ${pct(TARGETS.recoveryRate)}`,
      ok: s.recovery.rate >= TARGETS.recoveryRate && s.recovery.met >= TARGETS.minFaultsMet,
      value:
        `${s.recovery.recovered} of ${s.recovery.met} (${pct(s.recovery.rate)})` +
        (s.recovery.met < TARGETS.minFaultsMet
          ? `, too few to judge: ${TARGETS.minFaultsMet} needed (${SHORT} meets more)`
          : ''),
    },
    {
      name: `success in the healthy phase ≥ ${pct(TARGETS.healthySuccess)}`,
      ok: healthy.requests > 0 && healthy.successRate >= TARGETS.healthySuccess,
      value: healthy.requests > 0 ? `${pct(healthy.successRate)} of ${healthy.requests}` : 'none finished in it',
    },
    {
      name: 'every API’s provider breaker opened in the outage',
      ok: unopened.length === 0,
      value:
        unopened.length === 0
          ? `${opensInOutage} opens in it (${s.breakers.opens} in all)`
          : `never opened in the outage: ${unopened.join(', ')}`,
    },
    {
      name: 'every breaker closed again after the outage',
      ok: unclosed.length === 0,
      value:
        s.breakers.openAtEnd.length > 0
          ? `still open: ${s.breakers.openAtEnd.join(', ')}`
          : unclosed.length > 0
            ? `not closed since the outage began: ${unclosed.join(', ')}`
            : `${s.breakers.recoveries} recoveries`,
    },
    {
      name: `success once the breakers closed ≥ ${pct(TARGETS.afterCloseSuccess)}`,
      // None in a short run whose breakers closed after its last request started: the target
      // above says whether they closed.
      ok: afterCloseRate >= TARGETS.afterCloseSuccess,
      value: `${pct(afterCloseRate)} of ${afterClose.length}`,
    },
    {
      name: 'the noisy client was rate-limited, the others never',
      ok: s.rateLimited.noisy > 0 && s.rateLimited.wellBehaved === 0,
      value: `${s.rateLimited.noisy} of ${s.rateLimited.noisySent} noisy; ${s.rateLimited.wellBehaved} others`,
    },
    {
      name: `the noisy client's quota held across ${facts.instances === 1 ? 'the instance' : `all ${facts.instances} instances`} of each API`,
      ok: API_NAMES.every((api) => s.sharedLimit.byApi[api].admitted <= s.sharedLimit.byApi[api].limit),
      value: API_NAMES.map(
        (api) => `${api} ${s.sharedLimit.byApi[api].admitted} ≤ ${s.sharedLimit.byApi[api].limit}`,
      ).join(', '),
    },
    {
      name: 'repeated orders were answered from the idempotency record',
      ok: s.replays.sent > 0 && s.replays.matched === s.replays.sent,
      value: s.replays.sent > 0 ? `${s.replays.matched} of ${s.replays.sent}` : `none sent (${SHORT} sends some)`,
    },
    {
      name: 'alerts fired in the outage and resolved by the end',
      ok: s.alerts.firedInOutage > 0 && s.alerts.active === 0,
      value: `${s.alerts.fired} fired (${s.alerts.firedInOutage || 'none'} in the outage), ${s.alerts.resolved} resolved, ${s.alerts.active} active`,
    },
    {
      name: 'every declined payment’s reservation was released by the saga',
      ok: s.sagas.declined > 0 && s.sagas.declinedCompensated === s.sagas.declined,
      value:
        s.sagas.declined > 0
          ? `${s.sagas.declinedCompensated} of ${s.sagas.declined}`
          : `no card was declined (${SHORT} declines some)`,
    },
  ];
}
