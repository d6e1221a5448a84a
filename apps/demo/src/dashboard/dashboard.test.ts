import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';

const demoDir = fileURLToPath(new URL('../..', import.meta.url));
const outputDir = fileURLToPath(new URL('../../test-output/', import.meta.url));
/** The Debian package's browser; when it is missing the test fails (.ci/run installs it). */
const CHROMIUM = '/usr/bin/chromium';

let child: ChildProcess | undefined;
afterAll(() => {
  child?.kill();
});

/** Starts the demo's command line and resolves with the dashboard URL it prints. */
function startDemo(...args: string[]): Promise<string> {
  child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { cwd: demoDir });
  const lines = createInterface({ input: child.stdout! });
  return new Promise((resolve, reject) => {
    lines.on('line', (line) => {
      const url = /^dashboard: (http:\S+)/.exec(line)?.[1];
      if (url) resolve(url);
    });
    child!.on('exit', (code) => reject(new Error(`the demo exited (${code}) before printing the dashboard URL`)));
  });
}

describe('the dashboard', () => {
  it('shows the provider breakers open in the outage and closed after recovery', { timeout: 180_000 }, async () => {
    mkdirSync(outputDir, { recursive: true });
    const url = await startDemo('--duration', '16', '--seed', '42');
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(url);
      await page.waitForFunction(
        () =>
          document.getElementById('phase')?.dataset.phase === 'outage' &&
          document.querySelector('tr[data-breaker*="provider"][data-state="open"]') !== null,
        undefined,
        { timeout: 60_000, polling: 100 },
      );
      await page.screenshot({ path: `${outputDir}dashboard-outage.png`, fullPage: true });

      await page.waitForFunction(
        () =>
          document.getElementById('phase')?.dataset.phase === 'recovery' &&
          document.querySelectorAll('tr[data-breaker*="provider"]').length === 3 &&
          document.querySelectorAll('tr[data-breaker*="provider"][data-state="closed"]').length === 3,
        undefined,
        { timeout: 60_000, polling: 100 },
      );
      await page.screenshot({ path: `${outputDir}dashboard-recovered.png`, fullPage: true });
      const breakers = await page.$$eval('tr[data-breaker]', (rows) =>
        rows.map((row) => [(row as HTMLElement).dataset.breaker, (row as HTMLElement).dataset.state]),
      );
      expect(breakers.map(([name]) => name?.split(':')[0])).toEqual([
        'express-provider',
        'koa-provider',
        'trpc-provider',
      ]);
      expect(await page.locator('#alerts li').count()).toBeGreaterThan(0);
    } finally {
      await browser.close();
    }
  });
});
