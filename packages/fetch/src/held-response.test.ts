import { BrokenCircuitError, consecutive, type HttpStatusError } from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { afterEach, expect, it } from 'vitest';
import { withResilience } from './index.js';
import { answer, type ScriptServer, scriptServer } from './testing/server.js';

let server: ScriptServer;
afterEach(() => server?.close());

it('keeps no 503 Response in an open breaker: the caller has it, and a dropped one is not held with its unread body', async () => {
  server = await scriptServer(answer(503, { text: 'x'.repeat(10_000) }));
  const f = withResilience(fetch, {
    clock: new FakeClock(),
    retry: false,
    breaker: { strategy: consecutive(1), halfOpenAfter: 1_000 },
  });
  expect((await f(`${server.url}/items`)).status).toBe(503); // opens the breaker; dropped unread
  const rejected = await f(`${server.url}/items`).catch((error: unknown) => error);
  expect(rejected).toBeInstanceOf(BrokenCircuitError);
  const cause = (rejected as BrokenCircuitError).cause as HttpStatusError;
  expect([cause.status, cause.response]).toEqual([503, undefined]); // before, the Response, its body unread
});
