import { afterEach, describe, expect, it } from 'vitest';
import { consecutive } from '../breaker/strategy.js';
import { FakeClock } from '../clock/fake-clock.js';
import { sequenceRandom } from '../clock/sequence-random.js';
import { TimeoutError } from '../errors/errors.js';
import { followerCount } from '../policy/abort-fanout.js';
import { countControllers, restoreAbortController } from '../testing/abort-controllers.js';
import { call, type FakeResponse, transport } from '../testing/client-kit.js';
import type { ClientAttempt } from './client.js';
import { resilientClient } from './client.js';
import type { ClientOptions } from './options.js';

const A = 'https://a.example.com/items';
const OK: FakeResponse = { status: 200, headers: {} };

function client(options: ClientOptions<{ method: string; url: string }> = {}, clock = new FakeClock()) {
  return { clock, client: resilientClient({ clock, random: sequenceRandom(0.5), ...options }, transport) };
}

/** An attempt that only ends when it is aborted, rejecting with the reason its listener was given. */
const hangUntilAborted = (attempt: ClientAttempt) =>
  new Promise<FakeResponse>((_, reject) => {
    attempt.onAbort(reject);
  });

afterEach(restoreAbortController);

describe('ClientAttempt.onAbort', () => {
  it('creates no AbortController on the success path of a timed, retried, breaker-guarded request', async () => {
    const { client: c } = client({ timeout: 10_000, breaker: { strategy: consecutive(5) } });
    const controllers = countControllers();
    const seen: boolean[] = [];
    const response = await c.request(call('GET', A), (attempt) => {
      seen.push(attempt.abortable);
      const off = attempt.onAbort(() => {});
      return Promise.resolve(OK).finally(off);
    });
    expect(response.status).toBe(200);
    expect(seen).toEqual([true]);
    expect(controllers.count).toBe(0);
  });

  it('creates no AbortController for a deadline either: the attempt follows the deadline through its onAbort', async () => {
    const { client: c } = client({ deadlineMs: 30_000, timeout: 10_000, breaker: { strategy: consecutive(5) } });
    const controllers = countControllers();
    await c.request(call('GET', A), (attempt) => Promise.resolve(OK).finally(attempt.onAbort(() => {})));
    expect(controllers.count).toBe(0);
  });

  it('tells the listener when the deadline passes, with the deadline’s TimeoutError', async () => {
    const { client: c, clock } = client({ deadlineMs: 3_000, timeout: 10_000, retry: false });
    const pending = c.request(call('GET', A), hangUntilAborted).catch((e: unknown) => e);
    await clock.advance(3_000);
    const error = await pending;
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).timeoutMs).toBe(3_000);
  });

  it('tells the listener when the attempt times out, with the TimeoutError as the reason', async () => {
    const { client: c, clock } = client({ timeout: 1_000, retry: false });
    const pending = c.request(call('GET', A), hangUntilAborted).catch((e: unknown) => e);
    await clock.advance(1_000);
    const error = await pending;
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).timeoutMs).toBe(1_000);
  });

  it('tells the listener when the caller aborts, with the caller’s reason, and leaves no follower on its signal', async () => {
    const { client: c } = client({ timeout: 1_000, retry: false });
    const caller = new AbortController();
    const reason = new Error('gone');
    let listening = 0;
    const pending = c
      .request(call('GET', A, {}, { signal: caller.signal }), (attempt) => {
        const sent = hangUntilAborted(attempt);
        listening = followerCount(caller.signal);
        return sent;
      })
      .catch((e: unknown) => e);
    await Promise.resolve();
    caller.abort(reason);
    expect(await pending).toBe(reason);
    expect(listening).toBe(1);
    expect(followerCount(caller.signal)).toBe(0);
  });

  it('tells the listener of an attempt under a deadline when the caller aborts, and leaves nothing behind', async () => {
    const { client: c } = client({ deadlineMs: 30_000, timeout: 10_000, retry: false });
    const caller = new AbortController();
    const controllers = countControllers();
    const pending = c.request(call('GET', A, {}, { signal: caller.signal }), hangUntilAborted).catch((e: unknown) => e);
    await Promise.resolve();
    caller.abort('gone');
    expect(await pending).toBe('gone');
    expect(controllers.count).toBe(0);
    expect(followerCount(caller.signal)).toBe(0);
  });

  it('tells the listener at once when the caller has aborted already', () => {
    const { client: c } = client({ retry: false });
    const caller = new AbortController();
    let attempt: ClientAttempt | undefined;
    void c.request(call('GET', A, {}, { signal: caller.signal }), (a) => {
      attempt = a;
      return new Promise<FakeResponse>(() => {});
    });
    caller.abort('late');
    const reasons: unknown[] = [];
    attempt!.onAbort((r) => reasons.push(r));
    expect(reasons).toEqual(['late']);
  });

  it('stops telling a listener that unsubscribed, and every listener once the attempt settled', async () => {
    const { client: c, clock } = client({ timeout: 1_000, retry: false });
    const caller = new AbortController();
    const told: string[] = [];
    let settled: ClientAttempt | undefined;
    await c.request(call('GET', A, {}, { signal: caller.signal }), (attempt) => {
      settled = attempt;
      attempt.onAbort(() => told.push('kept until settled'));
      return Promise.resolve(OK);
    });
    const pending = c
      .request(call('GET', A, {}, { signal: caller.signal }), (attempt) => {
        const off = attempt.onAbort(() => told.push('unsubscribed'));
        off();
        off(); // a second call does nothing
        return hangUntilAborted(attempt);
      })
      .catch((e: unknown) => e);
    await clock.advance(1_000);
    expect(await pending).toBeInstanceOf(TimeoutError);
    expect(followerCount(caller.signal)).toBe(0);
    caller.abort();
    expect(told).toEqual([]);
    expect(settled!.abortable).toBe(true);
  });

  it('keeps telling the listeners that stay when others unsubscribe, and stops following the caller once the attempt ends', async () => {
    const { client: c, clock } = client({ timeout: 1_000, retry: false });
    const caller = new AbortController();
    const told: string[] = [];
    let attempt: ClientAttempt | undefined;
    const pending = c
      .request(call('GET', A, {}, { signal: caller.signal }), (a) => {
        attempt = a;
        return new Promise<FakeResponse>(() => {});
      })
      .catch((e: unknown) => e);
    const offFirst = attempt!.onAbort(() => told.push('first'));
    const offSecond = attempt!.onAbort(() => told.push('second'));
    const offThird = attempt!.onAbort(() => told.push('third'));
    offSecond(); // from the middle of three
    offSecond(); // twice: nothing more
    offFirst();
    offThird(); // the last one
    attempt!.onAbort(() => told.push('again')); // a listener after the list emptied is told
    // One follower throughout: the attempt timeout's own (it answers a caller's abort), which
    // its listeners share.
    expect(followerCount(caller.signal)).toBe(1);
    await clock.advance(1_000);
    expect(await pending).toBeInstanceOf(TimeoutError);
    expect(told).toEqual(['again']);
    expect(followerCount(caller.signal)).toBe(0);
  });

  it('is not abortable and never calls back when nothing can abort the attempt', async () => {
    const { client: c } = client({ retry: false });
    const told: unknown[] = [];
    await c.request(call('GET', A), (attempt) => {
      expect(attempt.abortable).toBe(false);
      attempt.onAbort((r) => told.push(r))();
      return Promise.resolve(OK);
    });
    expect(told).toEqual([]);
  });

  it('still hands out a real signal to an adapter that reads it, aborted by the time limit', async () => {
    const { client: c, clock } = client({ timeout: 1_000, retry: false });
    let signal: AbortSignal | undefined;
    const pending = c
      .request(call('GET', A), (attempt) => {
        signal = attempt.signal;
        return hangUntilAborted(attempt);
      })
      .catch((e: unknown) => e);
    await clock.advance(1_000);
    expect(await pending).toBeInstanceOf(TimeoutError);
    expect(signal!.aborted).toBe(true);
    expect(signal!.reason).toBeInstanceOf(TimeoutError);
  });
});
