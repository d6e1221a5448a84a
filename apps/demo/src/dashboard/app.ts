/// <reference lib="dom" />
// The dashboard in the browser: plain DOM and uPlot, fed by server-sent events.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { DemoEnd } from './server.js';
import type { DashboardState } from './state.js';

const API_NAMES = ['express', 'koa', 'trpc'] as const;
type ApiName = (typeof API_NAMES)[number];

const root = document.getElementById('app')!;
root.innerHTML = `
  <style>
    body { font: 14px system-ui, sans-serif; margin: 1.5rem; color: #222; }
    @media (max-width: 600px) { body { margin: .75rem; } progress { width: 4rem !important; } td, th { padding: .2rem .25rem !important; } }
    #limits td:nth-child(2) { white-space: nowrap; }
    section { min-width: 0; } #chart { overflow: hidden; } /* until a resize redraws it: never wider than its column */ #breakers td:first-child, #errors li { overflow-wrap: anywhere; } .state, .num { white-space: nowrap; }
    #status { margin: 0 0 .8rem; padding: .4rem .6rem; border-radius: .3rem; background: #f3f3f3; }
    #status[data-status="ended"] { background: #d8f5d8; } #status[data-status="missed"], #status[data-status="lost"] { background: #f9d0d0; }
    h1 { font-size: 1.3rem; margin: 0 0 .5rem; } h2 { font-size: 1rem; margin: 1rem 0 .4rem; }
    .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(420px, 100%), 1fr)); gap: 1rem 2rem; }
    table { border-collapse: collapse; width: 100%; } td, th { padding: .2rem .5rem; text-align: left; border-bottom: 1px solid #eee; }
    .state { font-weight: 600; padding: .05rem .4rem; border-radius: .3rem; }
    .state-closed { background: #d8f5d8; } .state-open { background: #f9d0d0; } .state-half-open { background: #fbeec0; } .state-isolated { background: #ddd; }
    #phase { font-weight: 700; padding: .1rem .5rem; border-radius: .3rem; background: #e4ecff; }
    progress { width: 8rem; } .muted { color: #777; } .note { font-size: .85rem; margin: .3rem 0 0; } ul { padding-left: 1.2rem; margin: 0; }
  </style>
  <h1>resilience demo <span id="phase" data-phase="">…</span> <span id="clock" class="muted"></span></h1>
  <p id="status" data-status="connecting">Connecting to the demo…</p>
  <div class="grid">
    <section><h2>Circuit breakers</h2><table id="breakers"></table></section>
    <section><h2>Upstream latency (ms) <select id="api">${API_NAMES.map((a) => `<option>${a}</option>`).join('')}</select></h2><div id="chart"></div></section>
    <section><h2>Upstream calls, after retries</h2><table id="rates"></table>
      <p class="muted note"><b>failed</b>: the provider was called and the call still failed after its retries. <b>refused</b>: failed at once without calling the provider, by an open breaker (or the client's throttle or quota).</p></section>
    <section><h2>Rate-limit usage per client</h2><table id="limits"></table>
      <p class="muted note">The share of each client's quota (a token bucket per client and API) in use now. At 100 % its next requests are refused with a 429: the noisy client asks for more than its quota.</p></section>
    <section><h2>Recent errors <span class="muted">(the APIs' 5xx answers and clients that gave up, newest first)</span></h2><ul id="errors"></ul></section>
    <section><h2>Alerts <span class="muted">(each one's latest change)</span></h2><ul id="alerts"></ul></section>
  </div>`;

const $ = (id: string) => document.getElementById(id)!;
const text = (value: string) => value.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
const pct = (rate: number) => `<span class="num">${(rate * 100).toFixed(1)} %</span>`;

/** The chart fills its column, up to 460 px (a phone's screen is narrower). */
function chartWidth(): number {
  return Math.max(200, Math.min(460, $('chart').clientWidth || 460));
}

/** Latency history per API: elapsed seconds, p50, p95, p99. */
const history = new Map<ApiName, number[][]>(API_NAMES.map((api) => [api, [[], [], [], []]]));
const HISTORY_POINTS = 240;
const chart = new uPlot(
  {
    width: chartWidth(),
    height: 220,
    scales: { x: { time: false } },
    legend: { live: false },
    axes: [{ label: 's' }, {}],
    series: [
      { label: 's' },
      { label: 'p50', stroke: '#3a7' },
      { label: 'p95', stroke: '#e90' },
      // Dashed: with few calls in the window p95 and p99 are often the same call, and p95 shows through.
      { label: 'p99', stroke: '#d33', dash: [6, 4] },
    ],
  },
  [[], [], [], []],
  $('chart'),
);
const select = $('api') as HTMLSelectElement;
const redraw = () => chart.setData(history.get(select.value as ApiName) as uPlot.AlignedData);
select.addEventListener('change', redraw);
window.addEventListener('resize', () => chart.setSize({ width: chartWidth(), height: 220 }));

/** The label beside the title: the provider's phase while the demo runs, then how it ended. */
function showPhase(label: string): void {
  const phase = $('phase');
  phase.textContent = label;
  phase.dataset.phase = label;
}

function render(state: DashboardState): void {
  showPhase(state.phase);
  $('clock').textContent = `${(state.elapsedMs / 1_000).toFixed(0)} / ${state.durationMs / 1_000} s`;
  $('breakers').innerHTML = state.breakers
    .map(
      (b) =>
        `<tr data-breaker="${text(b.name)}" data-state="${text(b.state)}"><td>${text(b.name)}</td>` +
        `<td><span class="state state-${text(b.state)}">${text(b.state)}</span></td>` +
        `<td class="muted">${b.state === 'open' && b.retryAfterMs !== null ? `probe in ${Math.round(b.retryAfterMs)} ms` : ''}</td></tr>`,
    )
    .join('');
  $('rates').innerHTML =
    `<tr><th>API</th><th>calls (last ${state.windowS} s)</th><th>retries</th><th>failed</th><th>refused</th><th>p95 (ms)</th></tr>` +
    API_NAMES.map((api) => {
      const u = state.apis[api].upstream;
      return (
        `<tr data-api="${text(api)}"><td>${text(api)}</td><td>${u.calls}</td><td>${u.retries}</td>` +
        `<td data-failed="${u.failedRate}">${pct(u.failedRate)}</td><td data-refused="${u.refusedRate}">${pct(u.refusedRate)}</td>` +
        `<td>${Math.round(u.p95)}</td></tr>`
      );
    }).join('');
  $('limits').innerHTML = state.rateLimits
    .map(
      (l) =>
        `<tr><td>${text(l.api)}</td><td>${text(l.key)}</td><td><progress max="1" value="${l.usage}"></progress></td><td>${pct(l.usage)}</td></tr>`,
    )
    .join('');
  // Seconds into the run, as the terminal and the clock above count them.
  const time = (at: number) => `${(at / 1_000).toFixed(1)} s`;
  $('errors').innerHTML =
    state.errors
      .map(
        (e) =>
          `<li>${time(e.at)} ${text(e.api)} <b>${text(String(e.status))}</b> ${text(e.name)}: ${text(e.message)}</li>`,
      )
      .join('') || '<li class="muted">none</li>';
  $('alerts').innerHTML =
    state.alerts
      .map(
        (a) => `<li>${time(a.at)} ${text(a.api)} <b>${text(a.name)}</b> ${text(a.severity)} — ${text(a.status)}</li>`,
      )
      .join('') || '<li class="muted">none</li>';
  for (const api of API_NAMES) {
    const series = history.get(api)!;
    const u = state.apis[api].upstream;
    [state.elapsedMs / 1_000, u.p50, u.p95, u.p99].forEach((value, i) => {
      series[i]!.push(value);
      if (series[i]!.length > HISTORY_POINTS) series[i]!.shift();
    });
  }
  redraw();
}

/** The line under the title: whether the page is live, and how the run went once it ended. */
function status(kind: 'live' | 'ended' | 'missed' | 'lost', message: string): void {
  const line = $('status');
  line.dataset.status = kind;
  line.textContent = message;
}

const source = new EventSource('/dashboard/events');
let ended = false;
source.onopen = () => status('live', 'Live: updated every second while the demo runs.');
source.onmessage = (event) => render(JSON.parse(event.data) as DashboardState);
source.addEventListener('end', (event) => {
  ended = true;
  source.close();
  const end = JSON.parse((event as MessageEvent).data) as DemoEnd | null;
  if (end !== null && 'stopped' in end) {
    showPhase('stopped');
    const how = end.signal === 'SIGINT' ? 'Ctrl-C' : end.signal;
    status('lost', `The demo was stopped (${how}) before its end: no summary. Run \`pnpm demo\` and reload this page.`);
    return;
  }
  const missed = end?.targets.filter((t) => !t.ok) ?? [];
  showPhase('ended');
  if (end === null) status('ended', 'The demo has ended. Its summary is in the terminal.');
  else if (missed.length === 0)
    status('ended', `The demo has ended: all ${end.targets.length} targets met. Its summary is in the terminal.`);
  else
    status(
      'missed',
      `The demo has ended and missed ${missed.length} of its ${end.targets.length} targets: ${missed.map((t) => `${t.name} (${t.value})`).join('; ')}. Its summary is in the terminal.`,
    );
});
// The server went away without saying the demo ended (killed at once, or crashed), or
// refused the stream (too many pages open): say so once instead of retrying every few seconds.
source.onerror = () => {
  if (ended) return;
  source.close();
  // No phase is current any more: the last one seen would read as the demo still in it.
  showPhase('not connected');
  status(
    'lost',
    'Not connected to the demo: it is no longer running, or too many dashboard pages are open. Run `pnpm demo` and reload this page.',
  );
};
