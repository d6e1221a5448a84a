// @resilience/http-conformance (private): the HTTP scenarios every server adapter must pass,
// as data, and the runner. See README.md for running it against another framework.
import { describe, it } from 'vitest';
import { scenarioContext } from './context.js';
import { scenarios } from './scenarios/index.js';
import type { ConformanceAdapter } from './types.js';

export {
  abandonedRequest,
  deferred,
  type RecordingLogger,
  recordingLogger,
  type ScenarioContext,
  type Served,
} from './context.js';
export { everyMiddleware } from './every-middleware.js';
export type { Area, Scenario } from './scenario.js';
export { scenarios } from './scenarios/index.js';
export type { ConformanceAdapter, Handler, HandlerRequest, Parser, Reply, TrustProxy } from './types.js';

/** Each scenario may take this long; none waits on real time, so only a slow machine comes near it. */
const SCENARIO_TIMEOUT_MS = 30_000;

/**
 * Registers every scenario as a vitest test of `adapter`, each against its own servers on
 * 127.0.0.1 with real requests; the servers are closed after each scenario.
 *
 * @example
 * runHttpConformance(expressAdapter); // in packages/express/src/conformance.test.ts
 */
export function runHttpConformance<M, C>(adapter: ConformanceAdapter<M, C>): void {
  describe(`HTTP conformance: ${adapter.name}`, () => {
    for (const scenario of scenarios) {
      it(
        `${scenario.area}: ${scenario.name}`,
        async () => {
          const { context, close } = scenarioContext(adapter);
          try {
            await scenario.run(context as never);
          } finally {
            await close();
          }
        },
        SCENARIO_TIMEOUT_MS,
      );
    }
  });
}
