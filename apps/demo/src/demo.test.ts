import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { Summary } from './summary.js';

const run = promisify(execFile);
const demoDir = fileURLToPath(new URL('..', import.meta.url));

/** Runs the demo's command line as `pnpm demo` does; resolves with its exit code and output. */
async function demo(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
      cwd: demoDir,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('the demo, end to end on loopback servers', () => {
  it('rides out a 12 s schedule: every target holds and it exits 0', { timeout: 90_000 }, async () => {
    const { code, stdout, stderr } = await demo('--duration', '12', '--seed', '42', '--no-dashboard', '--json');
    const summary = JSON.parse(stdout) as Summary;
    expect(summary.targets.filter((t) => !t.ok)).toEqual([]);
    expect(code).toBe(0);
    expect(summary.phases.map((p) => p.name)).toEqual(['healthy', 'transient', 'throttling', 'outage', 'recovery']);
    expect(summary.recovery.met).toBeGreaterThanOrEqual(5);
    expect(summary.recovery.rate).toBeGreaterThanOrEqual(0.99);
    expect(summary.breakers.opens).toBeGreaterThanOrEqual(3);
    expect(summary.breakers.openAtEnd).toEqual([]);
    expect(summary.rateLimited.noisy).toBeGreaterThan(0);
    expect(summary.rateLimited.wellBehaved).toBe(0);
    expect(summary.replays.sent).toBeGreaterThan(0);
    expect(summary.replays.matched).toBe(summary.replays.sent);
    expect(summary.alerts.fired).toBeGreaterThan(0);
    expect(summary.alerts.active).toBe(0);
    expect(summary.sagas.declined).toBeGreaterThan(0);
    expect(summary.sagas.declinedCompensated).toBe(summary.sagas.declined);
    expect(summary.phases.find((p) => p.name === 'outage')!.successRate).toBeLessThan(0.5);
    // Not a terminal: one plain line per phase (on stderr, as --json keeps stdout for the summary).
    for (const phase of ['healthy', 'transient', 'throttling', 'outage', 'recovery']) {
      expect(stderr).toMatch(new RegExp(`\\] phase ${phase}: requests \\d+`));
    }
  });

  it('refuses a bad --duration with its usage and exit code 2', { timeout: 60_000 }, async () => {
    const { code, stderr } = await demo('--duration', 'soon');
    expect(code).toBe(2);
    expect(stderr).toContain('usage: pnpm demo');
  });
});
