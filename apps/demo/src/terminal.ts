import Table from 'cli-table3';
import logUpdate from 'log-update';
import pc from 'picocolors';
import type { RunningDemo } from './run.js';
import { phaseAt } from './schedule.js';
import { figures, type Summary } from './summary.js';
import { API_NAMES } from './targets.js';

const BAR_WIDTH = 30;

/**
 * Shows a run's progress: on a terminal, a progress bar and one live line of figures,
 * redrawn in place; otherwise one plain line as each phase begins (and at the end).
 */
export function progress(demo: RunningDemo, tty: boolean, write: (line: string) => void): () => void {
  const { settings, load } = demo;
  let lastPhase = '';
  const draw = () => {
    const elapsed = Math.min(load.elapsedMs, settings.durationMs);
    const phase = phaseAt(demo.phases, elapsed).name;
    const recent = load.samples.filter((s) => !s.noisy && s.startMs >= elapsed - 2_000);
    const f = figures(recent);
    const open = API_NAMES.filter((api) => demo.breakers[api].state !== 'closed');
    const limited = load.samples.filter((s) => s.outcome === 'rate_limited').length;
    const line = `requests ${load.samples.length}  ok ${(f.successRate * 100).toFixed(1)} %  p95 ${Math.round(f.p95)} ms  breakers open ${open.length ? open.join(',') : '-'}  429s ${limited}  in flight ${load.inFlight}`;
    if (tty) {
      const done = Math.round((elapsed / settings.durationMs) * BAR_WIDTH);
      const bar = pc.green('█'.repeat(done)) + pc.dim('░'.repeat(BAR_WIDTH - done));
      logUpdate(`${bar} ${(elapsed / 1_000).toFixed(0)}/${settings.durationMs / 1_000} s  ${pc.bold(phase)}\n${line}`);
    } else if (phase !== lastPhase) {
      write(`[${(elapsed / 1_000).toFixed(1)} s] phase ${phase}: ${line}`);
    }
    lastPhase = phase;
  };
  const timer = setInterval(draw, 250);
  return () => {
    clearInterval(timer);
    if (tty) logUpdate.done();
  };
}

const pct = (rate: number) => `${(rate * 100).toFixed(2)} %`;
const ms = (value: number) => `${Math.round(value)}`;

/** The summary as tables: per phase and API, then the figures and the targets. */
export function summaryTables(summary: Summary): string {
  const phases = new Table({
    head: ['phase', 'time (s)', 'requests', 'success', ...API_NAMES.map((a) => `${a} ok`), 'p50', 'p95', 'p99 (ms)'],
  });
  for (const p of summary.phases) {
    phases.push([
      p.name,
      `${p.startS.toFixed(1)}–${p.endS.toFixed(1)}`,
      p.requests,
      pct(p.successRate),
      ...API_NAMES.map((a) => `${pct(p.byApi[a].successRate)} of ${p.byApi[a].requests}`),
      ms(p.p50),
      ms(p.p95),
      ms(p.p99),
    ]);
  }
  for (const a of summary.apis) {
    phases.push([pc.bold(a.name), '', a.requests, pct(a.successRate), '', '', '', ms(a.p50), ms(a.p95), ms(a.p99)]);
  }
  const facts = new Table();
  facts.push(
    {
      'recovery rate on transient faults': `${pct(summary.recovery.rate)} (${summary.recovery.recovered} of ${summary.recovery.met})`,
    },
    ...Object.entries(summary.recovery.failures).map(([cause, count]) => ({
      [`  not recovered: ${cause}`]: String(count),
    })),
    { 'breaker opens / recoveries': `${summary.breakers.opens} / ${summary.breakers.recoveries}` },
    {
      'rate-limited requests': `${summary.rateLimited.noisy} of the noisy client's ${summary.rateLimited.noisySent}, ${summary.rateLimited.wellBehaved} of the others`,
    },
    {
      [`noisy client admitted (quota, ${summary.sharedLimit.instances} instance(s))`]: API_NAMES.map(
        (a) => `${a} ${summary.sharedLimit.byApi[a].admitted} ≤ ${summary.sharedLimit.byApi[a].limit}`,
      ).join(', '),
    },
    { 'idempotent replays': `${summary.replays.matched} of ${summary.replays.sent}` },
    {
      'alerts fired / resolved': `${summary.alerts.fired} / ${summary.alerts.resolved} (${summary.alerts.names.join(', ') || 'none'})`,
    },
    {
      'saga compensations': `${summary.sagas.compensated} (${summary.sagas.declined} declined cards; ${summary.sagas.completed} orders completed; ${summary.sagas.compensationFailed} compensations failed while the provider was down)`,
    },
    { 'provider calls / faults injected': `${summary.provider.calls} / ${summary.provider.injected}` },
    { 'seed, duration, wall time': `${summary.seed}, ${summary.durationS} s, ${summary.wallS.toFixed(1)} s` },
  );
  const targets = new Table({ head: ['target', 'measured', ''] });
  for (const t of summary.targets) targets.push([t.name, t.value, t.ok ? pc.green('ok') : pc.red('MISSED')]);
  return [phases.toString(), facts.toString(), targets.toString()].join('\n');
}
