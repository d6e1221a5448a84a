import Table from 'cli-table3';
import logUpdate from 'log-update';
import pc from 'picocolors';
import { type RunningDemo, retriesOf } from './run.js';
import { type PhaseName, phaseAt, THROTTLE_RATE, TRANSIENT_FAULT_RATE } from './schedule.js';
import { figures, type Summary } from './summary.js';
import { API_NAMES } from './targets.js';

const BAR_WIDTH = 30;

/** The figures the progress lines show. */
export interface LiveFigures {
  /** Requests sent so far, the noisy client's included. */
  requests: number;
  /** The well-behaved clients' last 2 s. */
  recent: { successRate: number; p95: number };
  inFlight: number;
  injected: number;
  retries: number;
  /** The APIs whose provider breaker is not closed. */
  notClosed: readonly string[];
  /** Requests the APIs' rate limits answered with a 429. */
  limited: number;
}

/** The figures as lines: the requests, what the toolkit did about the faults, and the rate limits. */
export function figureLines(f: LiveFigures): string[] {
  return [
    `requests ${f.requests}, last 2 s ${(f.recent.successRate * 100).toFixed(1)} % ok, p95 ${Math.round(f.recent.p95)} ms, in flight ${f.inFlight}`,
    `faults injected ${f.injected}, retries ${f.retries}, breakers not closed ${f.notClosed.length ? f.notClosed.join(' ') : '-'}`,
    `turned away by the rate limits (429) ${f.limited}`,
  ];
}

/**
 * What a terminal shows while the load runs: a progress bar and the phase, what the provider
 * does in it, then the figures; each line fits 80 columns, so none wraps mid-word.
 */
export function liveFrame(elapsedMs: number, durationMs: number, phase: PhaseName, f: LiveFigures): string {
  const done = Math.round((elapsedMs / durationMs) * BAR_WIDTH);
  const bar = pc.green('█'.repeat(done)) + pc.dim('░'.repeat(BAR_WIDTH - done));
  return [
    `${bar} ${(elapsedMs / 1_000).toFixed(0)}/${durationMs / 1_000} s  ${pc.bold(phase)}`,
    `provider: ${PHASE_TEXT[phase]}`,
    ...figureLines(f),
  ].join('\n');
}

/**
 * Shows a run's progress: on a terminal, {@link liveFrame} redrawn in place; otherwise plain
 * lines: a phase's name and what the provider does in it as it begins, the figures as it ends,
 * and the figures when the load is over or stopped. A phase's figures are judged at its end,
 * whenever the line is written: its requests answered by then, its last 2 s (not the next
 * phase's), the faults injected up to then; a timer set for the phase's end reads the rest
 * (retries, breakers, requests in flight). The returned function stops it; `early` says the
 * run was stopped before its end.
 */
export function progress(demo: RunningDemo, tty: boolean, write: (line: string) => void): (early?: boolean) => void {
  const { settings, load, phases } = demo;
  const kits = API_NAMES.flatMap((api) => demo.kits[api]);
  // Counted from here: the warm-up's retries, before the run, are not the run's.
  const retriesBefore = retriesOf(kits);
  /**
   * The figures at `elapsed`, read then or (the requests and the faults) after it: the requests
   * answered by `answeredBy`, the last 2 s's of them started in `elapsed`'s phase.
   */
  const figuresAt = (elapsed: number, answeredBy = elapsed): LiveFigures => {
    const answered = load.samples.filter((s) => s.startMs + s.latencyMs <= answeredBy);
    const phase = phaseAt(phases, Math.max(0, elapsed - 1));
    return {
      requests: answered.length,
      recent: figures(answered.filter((s) => !s.noisy && s.startMs >= elapsed - 2_000 && s.phase === phase.name)),
      inFlight: load.inFlight,
      injected: phases
        .filter((p) => p.startMs < elapsed)
        .reduce((sum, p) => sum + (demo.provider.injectedIn[p.name] ?? 0), 0),
      retries: retriesOf(kits) - retriesBefore,
      notClosed: API_NAMES.filter((api) => demo.breakers[api].state !== 'closed'),
      limited: answered.filter((s) => s.outcome === 'rate_limited').length,
    };
  };
  const figuresLine = (f: LiveFigures) => figureLines(f).join(', ');
  const at = (elapsed: number) => `[${(elapsed / 1_000).toFixed(1)} s]`;
  const now = () => Math.min(load.elapsedMs, settings.durationMs);
  if (tty) {
    const draw = () => {
      const elapsed = now();
      const live = figuresAt(elapsed, load.elapsedMs);
      logUpdate(liveFrame(elapsed, settings.durationMs, phaseAt(phases, elapsed).name, live));
    };
    const timer = setInterval(draw, 250);
    return () => {
      clearInterval(timer);
      draw();
      logUpdate.done();
    };
  }
  // Plain lines, written at each phase boundary: `begun` phases have had their first line.
  let begun = 0;
  let timer: NodeJS.Timeout | undefined;
  /** Writes the lines of the phases begun by now, each ended one's figures as they were at its end. */
  const catchUp = () => {
    const elapsed = now();
    for (; begun < phases.length && phases[begun]!.startMs <= elapsed; begun++) {
      const phase = phases[begun]!;
      // The figures go under the phase they come from: printed beside the next one's name,
      // the outage's read "recovery: last 2 s 0.0 % ok, breakers not closed express koa trpc".
      if (begun > 0) {
        const ended = phases[begun - 1]!;
        write(`${at(ended.endMs)} ${ended.name} phase over: ${figuresLine(figuresAt(ended.endMs))}`);
      }
      write(`${at(phase.startMs)} phase ${phase.name} (${PHASE_TEXT[phase.name]})`);
    }
  };
  const step = () => {
    catchUp();
    // Woken at the next phase's start (the load's clock may lag the timer's: then again).
    const next = phases[begun];
    if (next !== undefined) timer = setTimeout(step, Math.max(0, next.startMs - load.elapsedMs));
  };
  // The first line once the load has started (this is called just before it does).
  timer = setTimeout(step, 0);
  return (early = false) => {
    clearTimeout(timer);
    catchUp();
    const elapsed = now();
    const phase = phaseAt(phases, elapsed).name;
    const end = early ? `stopped in the ${phase} phase` : `${phase} phase over, load over`;
    // Every request answered so far: at the load's end, all of them.
    write(`${at(elapsed)} ${end}: ${figuresLine(figuresAt(elapsed, load.elapsedMs))}`);
  };
}

/** What the provider does in each phase, for the progress lines. */
const PHASE_TEXT: Record<PhaseName, string> = {
  healthy: 'every answer fine',
  transient: `${TRANSIENT_FAULT_RATE * 100} % of answers a 5xx, a dropped connection or too slow`,
  throttling: `${THROTTLE_RATE * 100} % of answers a 429 with Retry-After`,
  outage: 'every answer a 503',
  recovery: 'every answer fine again',
};

/** cli-table3 colours whatever the output is: plain when picocolors says colour is off (a pipe, NO_COLOR). */
const TABLE_STYLE = pc.isColorSupported ? { head: ['bold'] } : { head: [], border: [] };

const pct = (rate: number) => `${(rate * 100).toFixed(2)} %`;
const ms = (value: number) => `${Math.round(value)}`;

/** The width the summary keeps to: a terminal's usual default, so no table line wraps. */
export const SUMMARY_COLUMNS = 80;

/**
 * The summary as tables, each at most {@link SUMMARY_COLUMNS} wide: requests, success and
 * latency per phase and per API, each API's success per phase, then the figures and the targets.
 */
export function summaryTables(summary: Summary): string {
  const phases = new Table({
    style: TABLE_STYLE,
    head: ['phase / API', 'time (s)', 'requests¹', 'success', 'p50', 'p95', 'p99 (ms)'],
  });
  for (const p of summary.phases) {
    phases.push([
      p.name,
      `${p.startS.toFixed(1)}–${p.endS.toFixed(1)}`,
      p.requests,
      pct(p.successRate),
      ms(p.p50),
      ms(p.p95),
      ms(p.p99),
    ]);
  }
  for (const a of summary.apis) {
    phases.push([pc.bold(a.name), 'all', a.requests, pct(a.successRate), ms(a.p50), ms(a.p95), ms(a.p99)]);
  }
  const byApi = new Table({ style: TABLE_STYLE, head: ['success per API¹', ...API_NAMES] });
  for (const p of summary.phases) {
    byApi.push([p.name, ...API_NAMES.map((a) => `${pct(p.byApi[a].successRate)} of ${p.byApi[a].requests}`)]);
  }
  // Word-wrapped to SUMMARY_COLUMNS (two columns and three borders): some of these say a lot.
  const facts = new Table({ style: TABLE_STYLE, colWidths: [30, 47], wordWrap: true });
  const instances = summary.sharedLimit.instances;
  facts.push(
    {
      'recovery rate on transient faults': `${pct(summary.recovery.rate)} (${summary.recovery.recovered} of ${summary.recovery.met})`,
    },
    ...Object.entries(summary.recovery.failures).map(([cause, count]) => ({
      [`  not recovered: ${cause}`]: String(count),
    })),
    {
      'breaker opens / recoveries': `${summary.breakers.opens} / ${summary.breakers.recoveries} (a half-open probe that fails opens a breaker again)`,
    },
    {
      'rate-limited requests': `${summary.rateLimited.noisy} of the noisy client's ${summary.rateLimited.noisySent}, ${summary.rateLimited.wellBehaved} of the others`,
    },
    {
      [`noisy client admitted by its quota (${instances === 1 ? '1 instance' : `${instances} instances`} per API)`]:
        API_NAMES.map(
          (a) => `${a} ${summary.sharedLimit.byApi[a].admitted} ≤ ${summary.sharedLimit.byApi[a].limit}`,
        ).join(', '),
    },
    { 'idempotent replays': `${summary.replays.matched} of ${summary.replays.sent}` },
    {
      'alerts fired / resolved': `${summary.alerts.fired} / ${summary.alerts.resolved}, ${summary.alerts.firedInOutage} fired in the outage (${summary.alerts.names.join(', ') || 'none'})`,
    },
    {
      'saga compensations': `${summary.sagas.compensated} reservations released (${summary.sagas.declinedCompensated} for a declined card, the rest for a charge the provider failed; ${summary.sagas.completed} orders completed; ${summary.sagas.compensationFailed} releases failed while the provider was down)`,
    },
    {
      'provider calls / faults injected / retries': `${summary.provider.calls} / ${summary.provider.injected} / ${summary.provider.retries} (retries by the APIs' provider clients)`,
    },
    { 'seed, duration, wall time': `${summary.seed}, ${summary.durationS} s, ${summary.wallS.toFixed(1)} s` },
  );
  const targets = new Table({
    style: TABLE_STYLE,
    head: ['target', 'measured', ''],
    colWidths: [36, 32, 8],
    wordWrap: true,
  });
  for (const t of summary.targets) targets.push([t.name, t.value, t.ok ? pc.green('ok') : pc.red('MISSED')]);
  const note =
    `¹ the well-behaved clients' requests, repeated orders left out (see "idempotent\n` +
    `  replays"); the noisy client's are under "rate-limited requests". A request\n` +
    `  counts in the phase it started in: the throttling phase's failures are mostly\n` +
    `  requests that waited out a Retry-After into the outage, the recovery phase's\n` +
    `  requests refused before their breaker's probe had closed it.`;
  return [phases.toString(), byApi.toString(), note, facts.toString(), targets.toString()].join('\n');
}
