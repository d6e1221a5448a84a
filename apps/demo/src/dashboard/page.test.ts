// The dashboard page in headless Chromium, fed frames made up here on a fake clock: what it
// shows of each figure, at its widest, whatever a run's timing. The page against a real run
// is end-to-end.test.ts's.
import { fileURLToPath } from 'node:url';
import { FakeClock } from '@resilience/core/testing';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningDemo } from '../run.js';
import { demoSettings } from '../settings.js';
import { startDashboard } from './server.js';
import type { DashboardState, UpstreamFrame } from './state.js';

/** The Debian package's browser; when it is missing the test fails (.ci/run installs it). */
const CHROMIUM = '/usr/bin/chromium';
const outputDir = fileURLToPath(new URL('../../test-output/', import.meta.url));

const clock = new FakeClock();
const settings = demoSettings({ durationMs: 60_000, seed: 1 });
const demo = { settings, clock, load: { elapsedMs: 42_000 } } as unknown as RunningDemo;

const upstream = (rates: Partial<UpstreamFrame>): UpstreamFrame => ({
  calls: 60,
  retries: 12,
  failedRate: 0,
  refusedRate: 0,
  p50: 40,
  p95: 90,
  p99: 120,
  ...rates,
});

/** A frame of the recovery: koa's breaker still refusing; express's calls failing after their retries. */
function recovery(): DashboardState {
  return {
    elapsedMs: 42_000,
    durationMs: 60_000,
    windowS: 3,
    phase: 'recovery',
    breakers: [
      { name: 'express-provider:127.0.0.1:40001', state: 'closed', retryAfterMs: null },
      { name: 'koa-provider:127.0.0.1:40001', state: 'open', retryAfterMs: 1_999 },
      { name: 'trpc-provider:127.0.0.1:40001', state: 'half-open', retryAfterMs: null },
    ],
    apis: {
      express: { upstream: upstream({ failedRate: 0.25 }) },
      koa: { upstream: upstream({ calls: 999, retries: 999, refusedRate: 1, p95: 20_000 }) },
      trpc: { upstream: upstream({ failedRate: 0.5, refusedRate: 0.5 }) },
    },
    rateLimits: ['express', 'koa', 'trpc'].flatMap((api) =>
      ['client-a', 'client-b', 'client-c', 'noisy'].map((key) => ({ api: api as 'koa', key, usage: 1 })),
    ),
    errors: Array.from({ length: 10 }, (_, i) => ({
      api: 'express' as const,
      at: 41_000 + i,
      status: 502,
      name: 'BrokenCircuitError',
      message: `Circuit breaker "express-provider:127.0.0.1:40001" is open; retry after ${i} ms`,
    })),
    alerts: [{ api: 'koa', name: 'critical_error_rate', severity: 'critical', status: 'firing', at: 38_000 }],
  };
}

let browser: Browser;
beforeAll(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

let dashboard: Awaited<ReturnType<typeof startDashboard>> | undefined;
afterEach(async () => {
  await dashboard?.stop();
  dashboard = undefined;
});

/** Opens the page at `width` px and shows it one frame; problems collects its errors. */
async function open(width: number, frame: DashboardState): Promise<{ page: Page; problems: string[] }> {
  dashboard = await startDashboard(demo, { read: async () => frame });
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  // The page's event sources, for a test to make one fail as a vanished demo's does.
  await page.addInitScript(() => {
    const sources: EventSource[] = [];
    (window as unknown as { sources: EventSource[] }).sources = sources;
    window.EventSource = class extends EventSource {
      constructor(...args: ConstructorParameters<typeof EventSource>) {
        super(...args);
        sources.push(this);
      }
    };
  });
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  await page.goto(dashboard.url);
  await page.waitForFunction(() => document.getElementById('status')?.dataset.status === 'live');
  // A read and a frame pushed each second, until the page shows one.
  for (let i = 0; i < 30 && (await page.locator('#rates tr[data-api="trpc"]').count()) === 0; i++) {
    await clock.advance(1_000);
  }
  await page.waitForSelector('#rates tr[data-api="trpc"]');
  return { page, problems };
}

/** Each API's row of the upstream table: its cells' text from `calls` on. */
const rows = (page: Page) =>
  page.$$eval('#rates tr[data-api]', (trs) =>
    trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent).join(' | ')),
  );

describe('the dashboard page', () => {
  it("shows a breaker's refusals as refused, apart from the calls that failed after their retries", {
    timeout: 60_000,
  }, async () => {
    const { page, problems } = await open(1280, recovery());
    expect(await page.$$eval('#rates th', (ths) => ths.map((th) => th.textContent))).toEqual([
      'API',
      'calls (last 3 s)',
      'retries',
      'failed',
      'refused',
      'p95 (ms)',
    ]);
    expect(await rows(page)).toEqual([
      'express | 60 | 12 | 25.0 % | 0.0 % | 90',
      'koa | 999 | 999 | 0.0 % | 100.0 % | 20000',
      'trpc | 60 | 12 | 50.0 % | 50.0 % | 90',
    ]);
    // Each section says what its figures are: the rate-limit bars are a share of a quota, not of requests.
    expect(await page.locator('#limits + .note').textContent()).toMatch(/^The share of each client's quota .* 429/);
    expect(await page.locator('h2:has(+ #errors)').textContent()).toMatch(/^Recent errors \(.*newest first\)$/);
    await page.screenshot({ path: `${outputDir}page-recovery.png`, fullPage: true });
    expect(problems).toEqual([]);
  });

  it('fits a phone with its widest figures: nothing wider than the screen', { timeout: 60_000 }, async () => {
    const { page, problems } = await open(375, recovery());
    const [scrollWidth, clientWidth] = await page.evaluate(() => [
      document.documentElement.scrollWidth,
      document.documentElement.clientWidth,
    ]);
    await page.screenshot({ path: `${outputDir}page-narrow.png`, fullPage: true });
    expect(scrollWidth).toBeLessThanOrEqual(clientWidth);
    expect(problems).toEqual([]);
  });

  it.each([
    { signal: 'SIGINT', says: 'Ctrl-C' },
    { signal: 'SIGTERM', says: 'SIGTERM' },
  ] as const)('says the demo was stopped by $signal', { timeout: 60_000 }, async ({ signal, says }) => {
    const { page } = await open(1280, recovery());
    await dashboard!.stop({ stopped: true, signal });
    await page.waitForFunction(() => document.getElementById('status')?.dataset.status === 'lost');
    expect(await page.locator('#status').textContent()).toBe(
      `The demo was stopped (${says}) before its end: no summary. Run \`pnpm demo\` and reload this page.`,
    );
    expect(await page.locator('#phase').textContent()).toBe('stopped');
    expect(await page.locator('#phase').getAttribute('data-phase')).toBe('stopped');
  });

  it('shows no live phase once it has lost the demo (killed, with no word to the page)', {
    timeout: 60_000,
  }, async () => {
    const { page } = await open(1280, recovery());
    expect(await page.locator('#phase').textContent()).toBe('recovery');
    // What the page hears when the demo's process is gone: its event stream fails.
    await page.evaluate(() =>
      (window as unknown as { sources: EventSource[] }).sources[0]!.dispatchEvent(new Event('error')),
    );
    await page.waitForFunction(() => document.getElementById('status')?.dataset.status === 'lost');
    expect(await page.locator('#status').textContent()).toMatch(/^Not connected to the demo/);
    expect(await page.locator('#phase').textContent()).toBe('not connected');
    expect(await page.locator('#phase').getAttribute('data-phase')).toBe('not connected');
  });
  it('writes every field of a frame as text: markup in a state, a status or a severity is shown, never run', {
    timeout: 60_000,
  }, async () => {
    // Each of these fields is one of a fixed set in a real run; the page escapes them all the same.
    const markup = '<img src=x onerror="window.hit=1">';
    const frame = recovery();
    const hostile = {
      ...frame,
      breakers: [{ ...frame.breakers[0]!, state: markup }],
      errors: [{ ...frame.errors[0]!, status: markup }],
      alerts: [{ ...frame.alerts[0]!, severity: markup, status: markup }],
    } as unknown as DashboardState;
    const { page, problems } = await open(1280, hostile);
    expect(await page.$$eval('img', (imgs) => imgs.length)).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { hit?: number }).hit)).toBeUndefined();
    expect(await page.locator('#breakers').textContent()).toContain(markup);
    expect(await page.locator('#errors').textContent()).toContain(markup);
    expect(await page.locator('#alerts').textContent()).toContain(`${markup} — ${markup}`);
    expect(problems).toEqual([]);
  });
});
