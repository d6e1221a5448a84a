// The official OpenAI and Anthropic SDKs, their own retries off, with our fetch against a
// local OpenAI- / Anthropic-compatible server that answers 429 (Retry-After: 1), then 503,
// then 200. The SDKs send no Idempotency-Key on completions, so `idempotent: () => true`
// says a completion is safe to repeat.
import Anthropic from '@anthropic-ai/sdk';
import {
  BrokenCircuitError,
  backoff,
  consecutive,
  HttpStatusError,
  isRetryableFailure,
  statusOf,
  systemClock,
} from '@resilience/core';
import { FakeClock, sequenceRandom } from '@resilience/core/testing';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { type ResilientFetchOptions, withResilience } from './index.js';
import { answer, drive, type ScriptServer, scriptServer, until } from './testing/server.js';

let server: ScriptServer;
afterEach(() => server?.close());

const waiting = (clock: FakeClock) => until(() => clock.pendingTimers > 0, 'a wait on the clock');
/** OpenAI's 429 for a spent quota: a retry cannot help, and the caller needs its code. */
const spent = {
  error: { message: 'You exceeded your current quota', type: 'insufficient_quota', code: 'insufficient_quota' },
};
const rateLimited = (message: string) => ({ error: { type: 'rate_limit_error', message } });

/** 429 with Retry-After: 1, then 503, then `ok`. */
const flaky = (ok: unknown) =>
  scriptServer(
    answer(429, rateLimited('slow down'), { 'retry-after': '1' }),
    answer(503, { error: { type: 'overloaded_error', message: 'try later' } }),
    answer(200, ok),
  );

/** Drives the clock through the two waits: the 429's Retry-After (1 s, jitter drawn as 0), then the backoff (200 ms). */
async function throughTheWaits(clock: FakeClock): Promise<void> {
  await waiting(clock);
  await clock.advance(999);
  expect(server.seen).toHaveLength(1); // still waiting out Retry-After
  await clock.advance(1);
  await server.requests(2);
  await waiting(clock);
  await clock.advance(200);
}

const ours = (clock: FakeClock, more: ResilientFetchOptions = {}) =>
  withResilience(fetch, { clock, random: sequenceRandom(0), idempotent: () => true, ...more });

describe('the OpenAI SDK with withResilience(fetch)', () => {
  const completion = {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1,
    model: 'gpt-4o-mini',
    choices: [{ index: 0, message: { role: 'assistant', content: 'hello' }, finish_reason: 'stop', logprobs: null }],
  };

  it('completes after exactly three requests on the wire, having waited for Retry-After', async () => {
    server = await flaky(completion);
    const clock = new FakeClock();
    const openai = new OpenAI({ apiKey: 'test', baseURL: `${server.url}/v1`, fetch: ours(clock), maxRetries: 0 });
    const pending = openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    await throughTheWaits(clock);
    const result = await pending;
    expect(result.choices[0]!.message.content).toBe('hello');
    expect(server.seen.map((s) => `${s.method} ${s.url}`)).toEqual(Array(3).fill('POST /v1/chat/completions'));
    expect(server.seen[0]!.headers['idempotency-key']).toBeUndefined();
    expect(clock.now()).toBe(1_200);
  });

  it('without idempotent, sends the POST once and the SDK raises its own 429 error', async () => {
    server = await flaky(completion);
    const openai = new OpenAI({
      apiKey: 'test',
      baseURL: `${server.url}/v1`,
      fetch: withResilience(fetch),
      maxRetries: 0,
    });
    const error = await openai.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(server.seen).toHaveLength(1);
  });

  it('the SDK’s retries left on multiply ours: 3 tries of 4 attempts against a 503 (docs/fetch.md)', async () => {
    server = await scriptServer(answer(503, { error: { message: 'down' } }, { 'retry-after-ms': '0' })); // the SDK waits 0 ms
    const fetchFn = withResilience(fetch, {
      clock: systemClock,
      idempotent: () => true,
      retry: { backoff: backoff.constant(0), budget: false },
    });
    const openai = new OpenAI({ apiKey: 'test', baseURL: `${server.url}/v1`, fetch: fetchFn }); // maxRetries: 2
    const error = await openai.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect(server.seen).toHaveLength(12);
  });

  it('reads the server’s x-should-retry and a 409 in retry.handle, as the SDK did (docs/fetch.md)', async () => {
    const retryable = (error: unknown) => {
      const said = error instanceof HttpStatusError ? (error.headers as Headers).get('x-should-retry') : null;
      return said === null ? isRetryableFailure(error) || statusOf(error) === 409 : said === 'true';
    };
    const clock = new FakeClock();
    const fetchFn = ours(clock, { retry: { handle: retryable } });
    server = await scriptServer(answer(503, { error: { message: 'no' } }, { 'x-should-retry': 'false' }));
    const create = () =>
      new OpenAI({
        apiKey: 'test',
        baseURL: `${server.url}/v1`,
        fetch: fetchFn,
        maxRetries: 0,
      }).chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'hi' }],
      });
    expect(await create().catch((e: unknown) => e)).toBeInstanceOf(OpenAI.InternalServerError);
    expect(server.seen).toHaveLength(1);
    server.script(answer(409, { error: { message: 'locked' } }), answer(200, completion));
    const pending = create();
    await waiting(clock);
    await clock.advance(100);
    expect((await pending).choices[0]!.message.content).toBe('hello');
    expect(server.seen).toHaveLength(3);
  });
  it('a Retry-After past the cap (60 s) is the answer at once; the SDK would retry on its backoff (docs/fetch.md)', async () => {
    server = await scriptServer(answer(429, rateLimited('wait'), { 'retry-after': '120' }), answer(200, completion));
    const openai = new OpenAI({
      apiKey: 'test',
      baseURL: `${server.url}/v1`,
      fetch: ours(new FakeClock()),
      maxRetries: 0,
    });
    const error = await openai.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).headers?.get('retry-after')).toBe('120');
    expect(server.seen).toHaveLength(1);
  });

  it('a spent quota under the documented breaker: the SDK’s RateLimitError (insufficient_quota), not our open breaker', async () => {
    server = await scriptServer(answer(429, spent));
    const clock = new FakeClock();
    const fetchFn = ours(clock, { breaker: { strategy: consecutive(3), halfOpenAfter: 60_000 } }); // as in docs/fetch.md
    const openai = new OpenAI({ apiKey: 'test', baseURL: `${server.url}/v1`, fetch: fetchFn, maxRetries: 0 });
    const create = () =>
      openai.chat.completions
        .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
        .catch((e: unknown) => e);
    // The backoffs (100 ms, 200 ms, …: jitter drawn as 0), driven until the call settles.
    const error = await drive(clock, create(), 5);
    // The third 429 opened the breaker: the fourth attempt it would refuse is not tried, and
    // the provider's answer is the caller's, its code intact. Before: an APIConnectionError
    // whose cause was our BrokenCircuitError, the 429 and its body thrown away.
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).code).toBe('insufficient_quota');
    expect(server.seen).toHaveLength(3);
    expect(fetchFn.client.host(server.host)?.breaker?.state).toBe('open');
    // While it is open, the next call goes nowhere: our refusal, as documented.
    const next = await create();
    expect(next).toBeInstanceOf(OpenAI.APIConnectionError);
    expect((next as Error).cause).toBeInstanceOf(BrokenCircuitError);
    expect(server.seen).toHaveLength(3);
  });
});

describe('the OpenAI SDK when our rate limit or throttle refuses the retry', () => {
  /** One completion through `fetchFn`, the clock driven through the waits until it settles; the SDK's error. */
  function failed(fetchFn: typeof fetch, clock: FakeClock): Promise<unknown> {
    const openai = new OpenAI({ apiKey: 'test', baseURL: `${server.url}/v1`, fetch: fetchFn, maxRetries: 0 });
    const completion = openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    return drive(
      clock,
      completion.then(
        () => 'resolved',
        (e: unknown) => e,
      ),
      5,
    );
  }

  it('the rate limit (one request a minute): the provider’s 429, its code intact, not our RateLimitExceededError', async () => {
    server = await scriptServer(answer(429, spent));
    const clock = new FakeClock();
    const fetchFn = ours(clock, { rateLimit: { requestsPerMinute: 1, maxWaitMs: 10_000 } });
    const error = await failed(fetchFn, clock);
    // Before: `APIConnectionError: Connection error.`, its cause our RateLimitExceededError.
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).code).toBe('insufficient_quota');
    expect(server.seen).toHaveLength(1);
  });

  it('the throttle (one 503 on a fresh client: p = 1/2): the provider’s 503, not our ThrottledError', async () => {
    server = await scriptServer(answer(503, { error: { message: 'overloaded', type: 'server_error' } }));
    const clock = new FakeClock();
    const fetchFn = ours(clock, { throttle: true });
    const error = await failed(fetchFn, clock);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect((error as Error).message).toBe('503 overloaded');
    expect(server.seen).toHaveLength(1);
  });
});

describe('the Anthropic SDK with withResilience(fetch)', () => {
  const message = {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model: 'claude-test',
    content: [{ type: 'text', text: 'hello' }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 1, output_tokens: 1 },
  };

  it('completes after exactly three requests on the wire, having waited for Retry-After', async () => {
    server = await flaky(message);
    const clock = new FakeClock();
    const anthropic = new Anthropic({ apiKey: 'test', baseURL: server.url, fetch: ours(clock), maxRetries: 0 });
    const pending = anthropic.messages.create({
      model: 'claude-test',
      max_tokens: 16,
      messages: [{ role: 'user', content: 'hi' }],
    });
    await throughTheWaits(clock);
    const result = await pending;
    expect(result.content[0]).toEqual({ type: 'text', text: 'hello' });
    expect(server.seen.map((s) => `${s.method} ${s.url}`)).toEqual(Array(3).fill('POST /v1/messages'));
    expect(clock.now()).toBe(1_200);
  });
});
