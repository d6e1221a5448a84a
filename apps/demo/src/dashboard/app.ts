/// <reference lib="dom" />
// The dashboard in the browser: plain DOM and uPlot, fed by server-sent events.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { DashboardState } from './state.js';

const API_NAMES = ['express', 'koa', 'trpc'] as const;
type ApiName = (typeof API_NAMES)[number];

const root = document.getElementById('app')!;
root.innerHTML = `
  <style>
    body { font: 14px system-ui, sans-serif; margin: 1.5rem; color: #222; }
    h1 { font-size: 1.3rem; margin: 0 0 .5rem; } h2 { font-size: 1rem; margin: 1rem 0 .4rem; }
    .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 1rem 2rem; }
    table { border-collapse: collapse; width: 100%; } td, th { padding: .2rem .5rem; text-align: left; border-bottom: 1px solid #eee; }
    .state { font-weight: 600; padding: .05rem .4rem; border-radius: .3rem; }
    .state-closed { background: #d8f5d8; } .state-open { background: #f9d0d0; } .state-half-open { background: #fbeec0; } .state-isolated { background: #ddd; }
    #phase { font-weight: 700; padding: .1rem .5rem; border-radius: .3rem; background: #e4ecff; }
    progress { width: 8rem; } .muted { color: #777; } ul { padding-left: 1.2rem; margin: 0; }
  </style>
  <h1>resilience demo <span id="phase" data-phase="">…</span> <span id="clock" class="muted"></span></h1>
  <div class="grid">
    <section><h2>Circuit breakers</h2><table id="breakers"></table></section>
    <section><h2>Upstream latency (ms) <select id="api">${API_NAMES.map((a) => `<option>${a}</option>`).join('')}</select></h2><div id="chart"></div></section>
    <section><h2>Upstream error rate</h2><table id="rates"></table></section>
    <section><h2>Rate-limit usage per client</h2><table id="limits"></table></section>
    <section><h2>Recent errors</h2><ul id="errors"></ul></section>
    <section><h2>Alerts</h2><ul id="alerts"></ul></section>
  </div>`;

const $ = (id: string) => document.getElementById(id)!;
const text = (value: string) => value.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
const pct = (rate: number) => `${(rate * 100).toFixed(1)} %`;

/** Latency history per API: elapsed seconds, p50, p95, p99. */
const history = new Map<ApiName, number[][]>(API_NAMES.map((api) => [api, [[], [], [], []]]));
const HISTORY_POINTS = 240;
const chart = new uPlot(
  {
    width: 460,
    height: 220,
    scales: { x: { time: false } },
    axes: [{ label: 's' }, {}],
    series: [
      { label: 's' },
      { label: 'p50', stroke: '#3a7' },
      { label: 'p95', stroke: '#e90' },
      { label: 'p99', stroke: '#d33' },
    ],
  },
  [[], [], [], []],
  $('chart'),
);
const select = $('api') as HTMLSelectElement;
const redraw = () => chart.setData(history.get(select.value as ApiName) as uPlot.AlignedData);
select.addEventListener('change', redraw);

function render(state: DashboardState): void {
  const phase = $('phase');
  phase.textContent = state.phase;
  phase.dataset.phase = state.phase;
  $('clock').textContent = `${(state.elapsedMs / 1_000).toFixed(0)} / ${state.durationMs / 1_000} s`;
  $('breakers').innerHTML = state.breakers
    .map(
      (b) =>
        `<tr data-breaker="${text(b.name)}" data-state="${b.state}"><td>${text(b.name)}</td>` +
        `<td><span class="state state-${b.state}">${b.state}</span></td>` +
        `<td class="muted">${b.state === 'open' && b.retryAfterMs !== null ? `probe in ${Math.round(b.retryAfterMs)} ms` : ''}</td></tr>`,
    )
    .join('');
  $('rates').innerHTML =
    '<tr><th>API</th><th>calls in window</th><th>error rate</th><th>p95</th></tr>' +
    API_NAMES.map((api) => {
      const u = state.apis[api].upstream;
      return `<tr data-api="${api}"><td>${api}</td><td>${u.calls}</td><td>${pct(u.errorRate)}</td><td>${Math.round(u.p95)} ms</td></tr>`;
    }).join('');
  $('limits').innerHTML = state.rateLimits
    .map(
      (l) =>
        `<tr><td>${l.api}</td><td>${text(l.key)}</td><td><progress max="1" value="${l.usage}"></progress></td><td>${pct(l.usage)}</td></tr>`,
    )
    .join('');
  const time = (at: number) => new Date(at).toLocaleTimeString();
  $('errors').innerHTML =
    state.errors
      .map((e) => `<li>${time(e.at)} ${e.api} <b>${e.status}</b> ${text(e.name)}: ${text(e.message)}</li>`)
      .join('') || '<li class="muted">none</li>';
  $('alerts').innerHTML =
    state.alerts
      .map((a) => `<li>${time(a.at)} ${a.api} <b>${text(a.name)}</b> ${a.severity} — ${a.status}</li>`)
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

new EventSource('/dashboard/events').onmessage = (event) => render(JSON.parse(event.data) as DashboardState);
