import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { health } from './health.js';
import type { HealthCheckStatus, HealthStatus } from './options.js';

const outcome = fc.constantFrom<HealthCheckStatus>('pass', 'warn', 'fail');
// Options left out take the defaults, which the model spells out (`critical: false`, `failureThreshold: 1`).
const spec = fc.record(
  { critical: fc.boolean(), failureThreshold: fc.integer({ min: 1, max: 4 }) },
  { requiredKeys: [] },
);

/**
 * The status rules written out plainly, over each check's history of outcomes (the
 * CrossStack seed's): a check is down once it has failed `failureThreshold` times in a row;
 * every check down, or a critical one down, is `unhealthy`; anything short of all passing
 * is `degraded`.
 */
function model(
  checks: { critical?: boolean; failureThreshold?: number }[],
  histories: HealthCheckStatus[][],
  run: number,
): HealthStatus {
  const down = checks.map((check, c) => {
    let streak = 0;
    for (let r = 0; r <= run; r++) streak = histories[r]![c] === 'fail' ? streak + 1 : 0;
    return streak >= (check.failureThreshold ?? 1);
  });
  if (down.every(Boolean) || checks.some((check, c) => check.critical === true && down[c])) return 'unhealthy';
  return histories[run]!.every((now) => now === 'pass') ? 'healthy' : 'degraded';
}

describe('health status (property)', () => {
  it('matches the written rules for any checks and any sequence of outcomes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(spec, { minLength: 1, maxLength: 4 }).chain((checks) =>
          fc.tuple(
            fc.constant(checks),
            fc.array(fc.array(outcome, { minLength: checks.length, maxLength: checks.length }), {
              minLength: 1,
              maxLength: 8,
            }),
          ),
        ),
        async ([checks, histories]) => {
          let run = 0;
          const probes = health({ clock: new FakeClock() });
          checks.forEach((options, c) => {
            probes.register(
              `c${c}`,
              () => {
                const now = histories[run]![c];
                return now === 'fail' ? false : now === 'warn' ? 'warn' : true;
              },
              options,
            );
          });
          for (run = 0; run < histories.length; run++) {
            const report = await probes.run();
            expect(report.status).toBe(model(checks, histories, run));
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
