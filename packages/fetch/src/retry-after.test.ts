import { FakeClock, sequenceRandom } from '@resilience/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { withResilience } from './index.js';
import { answer, type ScriptServer, type Step, scriptServer, until } from './testing/server.js';

let server: ScriptServer;
afterEach(() => server?.close());

const START = Date.parse('2026-11-24T12:00:00Z');

/** A 429 with these `Retry-After` field lines (several lines: `fetch` joins them with `, `). */
const tooMany =
  (...retryAfter: string[]): Step =>
  (_req, res) => {
    res.setHeader('retry-after', retryAfter);
    res.writeHead(429, { 'content-type': 'application/json' });
    res.end('{}');
  };

/** Sends one GET that is answered `first`, then 200; resolves once the retry went out, with the ms the clock moved. */
async function waitedFor(first: Step): Promise<number> {
  server = await scriptServer(first, answer(200));
  const clock = new FakeClock(START);
  const f = withResilience(fetch, { clock, random: sequenceRandom(0) });
  const pending = f(`${server.url}/items`);
  await until(() => clock.pendingTimers > 0, 'the wait before the retry');
  let waited = 0;
  while (server.seen.length < 2 && waited < 120_000) {
    await clock.advance(100);
    waited += 100;
    await until(() => clock.pendingTimers > 0 || server.seen.length >= 2, 'the retry or the wait');
  }
  expect((await pending).status).toBe(200);
  return waited;
}

describe('Retry-After as servers send it', () => {
  it('waits for a fractional delay-seconds instead of retrying on the backoff’s 100 ms', async () => {
    expect(await waitedFor(tooMany('1.5'))).toBe(1_500);
  });

  it('waits for the first of a Retry-After sent twice (fetch joins the lines with a comma)', async () => {
    expect(await waitedFor(tooMany('2', '2'))).toBe(2_000);
  });

  it('reads an asctime HTTP-date as GMT, whatever the machine’s zone', async () => {
    const zone = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      expect(await waitedFor(tooMany('Tue Nov 24 12:00:03 2026'))).toBe(3_000);
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });

  it('waits for retry-after-ms (OpenAI, Anthropic), read before Retry-After (docs/fetch.md)', async () => {
    const step: Step = (_req, res) => {
      res.writeHead(429, { 'retry-after-ms': '2500', 'retry-after': '1' });
      res.end('{}');
    };
    expect(await waitedFor(step)).toBe(2_500);
  });

  it.each([['-1'], ['1e3'], ['Infinity']])(
    'reads no wait in Retry-After: %s (falls back to the backoff)',
    async (value) => {
      expect(await waitedFor(tooMany(value))).toBe(100);
    },
  );

  it('ignores text Date.parse would still read as a date (falls back to the backoff)', async () => {
    expect(await waitedFor(tooMany('foo 2030'))).toBe(100);
  });
});
