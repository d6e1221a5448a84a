import type { ServerResponse } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { followerCount } from '@resilience/core/internal';
import { FakeClock } from '@resilience/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { bodySignal } from './body-signal.js';
import { withResilience } from './index.js';
import { answer, type ScriptServer, type Step, scriptServer, until } from './testing/server.js';

let server: ScriptServer;
afterEach(() => server?.close());

// A collector for this file only: the flag is read when a context is made, so the new
// context gets `gc` without running the whole worker under `--expose-gc`.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Collects until `condition` holds, letting finalizers run between collections; false after 20 rounds. */
async function collectedUntil(condition: () => boolean): Promise<boolean> {
  for (let round = 0; round < 20 && !condition(); round++) {
    gc();
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return condition();
}

/** How many entries Node's own `AbortSignal.any` bookkeeping holds on `signal` (0 when it has none). */
function nodeDependants(signal: AbortSignal): number {
  const key = Object.getOwnPropertySymbols(signal).find((s) => s.description === 'kDependantSignals');
  return key === undefined ? 0 : ((signal as unknown as Record<symbol, Set<unknown>>)[key]?.size ?? 0);
}

/** Sends the headers and a first chunk, then holds the rest until `finish` is called. */
function partial(): { step: Step; finish(): void } {
  let held: ServerResponse | undefined;
  return {
    step: (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first,');
      held = res;
    },
    finish: () => held?.end('last'),
  };
}

/** The outcome of reading `response`'s body, once it settles. */
function read(response: Response): { outcome?: unknown } {
  const state: { outcome?: unknown } = {};
  response.text().then(
    (text) => (state.outcome = text),
    (error: unknown) => (state.outcome = error),
  );
  return state;
}

describe('bodySignal', () => {
  it('aborts with the caller’s reason, or the attempt’s, whichever aborts', () => {
    const caller = new AbortController();
    const attempt = new AbortController();
    const first = bodySignal(caller.signal, attempt.signal);
    const second = bodySignal(new AbortController().signal, attempt.signal);
    caller.abort(new Error('user left'));
    expect(first.reason).toEqual(new Error('user left'));
    expect(second.aborted).toBe(false);
    attempt.abort(new Error('attempt timed out'));
    expect(second.reason).toEqual(new Error('attempt timed out'));
    expect(first.reason).toEqual(new Error('user left')); // aborted once, by the first
  });

  it('is aborted at once when a source already is', () => {
    const reason = new Error('gone');
    expect(bodySignal(AbortSignal.abort(reason), new AbortController().signal).reason).toBe(reason);
    expect(bodySignal(new AbortController().signal, AbortSignal.abort(reason)).reason).toBe(reason);
  });

  it('stops following both sources once it aborted', () => {
    const caller = new AbortController();
    const attempt = new AbortController();
    bodySignal(caller.signal, attempt.signal);
    expect([followerCount(caller.signal), followerCount(attempt.signal)]).toEqual([1, 1]);
    attempt.abort();
    expect([followerCount(caller.signal), followerCount(attempt.signal)]).toEqual([0, 0]);
  });

  it('ends a body as it streams when the attempt’s signal aborts, with its reason', async () => {
    const body = partial();
    server = await scriptServer(body.step);
    const attempt = new AbortController();
    const response = await fetch(server.url, { signal: bodySignal(new AbortController().signal, attempt.signal) });
    const state = read(response);
    attempt.abort(new Error('attempt timed out'));
    await until(() => 'outcome' in state, 'the body to settle');
    expect(state.outcome).toEqual(new Error('attempt timed out'));
  });
});

describe('withResilience(fetch) with attempt timeouts and a caller’s signal', () => {
  const timed = (clock = new FakeClock()) => ({ clock, fetch: withResilience(fetch, { clock, timeout: 5_000 }) });

  it('the caller aborting mid-body ends the body with the caller’s reason', async () => {
    const body = partial();
    server = await scriptServer(body.step);
    const caller = new AbortController();
    const response = await timed().fetch(server.url, { signal: caller.signal });
    const state = read(response);
    caller.abort(new Error('user left'));
    await until(() => 'outcome' in state, 'the body to settle');
    expect(state.outcome).toEqual(new Error('user left'));
  });

  it('a body still streaming keeps its abort through collections: the caller aborting later still ends it', async () => {
    const body = partial();
    server = await scriptServer(body.step);
    const caller = new AbortController();
    const response = await timed().fetch(server.url, { signal: caller.signal });
    const state = read(response);
    await collectedUntil(() => false); // twenty collections while fetch alone holds the signal
    expect(followerCount(caller.signal)).toBe(1);
    caller.abort(new Error('user left'));
    await until(() => 'outcome' in state, 'the body to settle');
    expect(state.outcome).toEqual(new Error('user left'));
    expect(followerCount(caller.signal)).toBe(0);
  });

  it('a caller’s signal that is already aborted rejects with its reason, and nothing is sent', async () => {
    server = await scriptServer(answer(200));
    const reason = new Error('gone before');
    await expect(timed().fetch(server.url, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(server.seen).toHaveLength(0);
  });

  it('a body read after its attempt settled, past the attempt timeout, is read in full', async () => {
    const body = partial();
    server = await scriptServer(body.step);
    const { clock, fetch: f } = timed();
    const response = await f(server.url, { signal: new AbortController().signal });
    await clock.advance(10_000); // twice the attempt timeout: it must no longer apply
    const state = read(response);
    body.finish();
    await until(() => 'outcome' in state, 'the body to settle');
    expect(state.outcome).toBe('first,last');
  });

  it('one long-lived caller signal keeps no entry per request once the responses are collected', async () => {
    server = await scriptServer(answer(200));
    const given: AbortSignal[] = []; // the signals fetch was given, held as a body still streaming would hold one
    const f = withResilience(
      (input: string, init?: RequestInit) => {
        given.push(init!.signal!);
        return fetch(input, init);
      },
      { clock: new FakeClock(), timeout: 5_000 },
    );
    const shutdown = new AbortController().signal; // an app-wide signal, never aborted
    const requests = 2_000;
    for (let i = 0; i < requests; i++) await (await f(server.url, { signal: shutdown })).text();
    // While they are held, each signal follows the caller's: the growth the cleanup must undo.
    expect(followerCount(shutdown)).toBe(requests);
    given.length = 0;
    expect(await collectedUntil(() => followerCount(shutdown) <= 2)).toBe(true);
    expect(nodeDependants(shutdown)).toBe(0); // AbortSignal.any left one per request here
  }, 30_000); // 2 000 requests on the wire: more than the default 5 s on a loaded 2-core machine
});
