// Streamed completions (server-sent events) through the official SDKs with our fetch, against a
// local server: what is retried before a stream starts, and that nothing of ours cuts, repeats
// or holds a stream once its headers came.
import type { ServerResponse } from 'node:http';
import Anthropic from '@anthropic-ai/sdk';
import { isRetryableFailure, statusOf } from '@resilience/core';
import { FakeClock, sequenceRandom } from '@resilience/core/testing';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { withResilience } from './index.js';
import { answer, type ScriptServer, type Step, scriptServer, until } from './testing/server.js';

let server: ScriptServer;
afterEach(() => server?.close());

/** An event stream the test writes to: `step` sends the headers, `send` one event, `end` ends it, `cut` destroys the connection. */
function eventStream() {
  let held: ServerResponse | undefined;
  const step: Step = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'retry-after': '30' }); // Retry-After on a 200 means nothing
    res.flushHeaders();
    held = res;
  };
  return {
    step,
    started: () => held !== undefined,
    send: (event: string) => held!.write(event),
    end: (event = '') => held!.end(event),
    cut: (event: string) => held!.write(event, () => held!.socket?.destroy()),
  };
}

const chunk = (content: string) =>
  `data: ${JSON.stringify({
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'gpt-4o-mini',
    choices: [{ index: 0, delta: { content }, finish_reason: null }],
  })}\n\n`;

/** The tokens read from `stream`, and how the reading ended, once it has. */
function reading(stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>) {
  const state: { tokens: string[]; outcome?: unknown } = { tokens: [] };
  (async () => {
    for await (const part of stream) state.tokens.push(part.choices[0]?.delta.content ?? '');
  })().then(
    () => (state.outcome = 'done'),
    (error: unknown) => (state.outcome = error),
  );
  return state;
}

/** Counts the retries that `retry.onRetry` reports: the attempt timeout is also a timer on the clock. */
function retries() {
  const seen = { count: 0 };
  return { seen, onRetry: () => void seen.count++ };
}

/** The OpenAI SDK, its retries off, over our fetch with a per-attempt timeout and a deadline on a fake clock. */
function openaiWith(clock: FakeClock, onRetry: () => void = () => {}) {
  const fetchFn = withResilience(fetch, {
    clock,
    random: sequenceRandom(0),
    idempotent: () => true,
    retry: { onRetry },
    timeout: 5_000,
    deadlineMs: 10_000,
  });
  return new OpenAI({ apiKey: 'test', baseURL: `${server.url}/v1`, fetch: fetchFn, maxRetries: 0 });
}

const streamed = (openai: OpenAI, options?: OpenAI.RequestOptions) =>
  openai.chat.completions.create(
    { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream: true },
    options,
  );

describe('a streamed OpenAI completion through withResilience(fetch)', () => {
  it('is retried on a 429 before it starts; once started, neither timeout nor deadlineMs cuts it', async () => {
    const events = eventStream();
    server = await scriptServer(answer(429, { error: { message: 'slow down' } }, { 'retry-after': '1' }), events.step);
    const clock = new FakeClock();
    const retried = retries();
    const pending = streamed(openaiWith(clock, retried.onRetry));
    await until(() => retried.seen.count === 1, 'the wait for Retry-After');
    await clock.advance(999);
    expect(server.seen).toHaveLength(1);
    await clock.advance(1);
    const state = reading(await pending);
    events.send(chunk('hel'));
    await until(() => state.tokens.length === 1, 'the first token');
    await clock.advance(60_000); // far past the attempt timeout and the deadline
    events.end(`${chunk('lo')}data: [DONE]\n\n`);
    await until(() => state.outcome !== undefined, 'the stream to end');
    expect(state.outcome).toBe('done');
    expect(state.tokens).toEqual(['hel', 'lo']);
    expect(server.seen).toHaveLength(2);
  });

  it('is retried after a 503 whose body still streams: that body is released as the retry goes out, its connection closed', async () => {
    const events = eventStream();
    const unfinished: Step = (_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.write('{"error":'); // and never ends
    };
    server = await scriptServer(unfinished, events.step);
    const clock = new FakeClock();
    const retried = retries();
    const pending = streamed(openaiWith(clock, retried.onRetry));
    await until(() => retried.seen.count === 1 && clock.pendingTimers > 0, 'the wait');
    // Held through the wait: the retry may yet be refused (a rate limit), and the 503 is then the answer.
    expect(server.seen[0]!.aborted).toBe(false);
    await clock.advance(100);
    await until(() => server.seen[0]!.aborted, 'the 503 to be released');
    const state = reading(await pending);
    events.end(`${chunk('hello')}data: [DONE]\n\n`);
    await until(() => state.outcome !== undefined, 'the stream to end');
    expect(state.tokens).toEqual(['hello']);
    expect(server.seen).toHaveLength(2);
  });

  it('that breaks off mid-way fails the reading, and is not sent again (its tokens would be repeated)', async () => {
    const events = eventStream();
    server = await scriptServer(events.step, answer(200));
    const state = reading(await streamed(openaiWith(new FakeClock())));
    events.cut(chunk('hel'));
    await until(() => state.outcome !== undefined, 'the stream to fail');
    expect(state.tokens).toEqual(['hel']);
    expect(state.outcome).toBeInstanceOf(Error);
    expect(server.seen).toHaveLength(1);
  });

  it('ends at stream.controller.abort(), and its connection is closed', async () => {
    const events = eventStream();
    server = await scriptServer(events.step);
    const stream = await streamed(openaiWith(new FakeClock()));
    const state = reading(stream);
    events.send(chunk('hel'));
    await until(() => state.tokens.length === 1, 'the first token');
    stream.controller.abort();
    await until(
      () => state.outcome !== undefined && server.seen[0]!.aborted,
      'the stream to end and the connection to close',
    );
    expect(server.seen).toHaveLength(1);
  });

  it('ends when the signal given to the SDK aborts (a bound on the whole stream)', async () => {
    const events = eventStream();
    server = await scriptServer(events.step);
    const bound = new AbortController(); // AbortSignal.timeout(ms) in an application
    const state = reading(await streamed(openaiWith(new FakeClock()), { signal: bound.signal }));
    events.send(chunk('hel'));
    await until(() => state.tokens.length === 1, 'the first token');
    bound.abort();
    await until(
      () => state.outcome !== undefined && server.seen[0]!.aborted,
      'the stream to end and the connection to close',
    );
    expect(state.tokens).toEqual(['hel']); // the SDK ends its iteration quietly
  });
});

describe('a streamed Anthropic message through withResilience(fetch)', () => {
  const event = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;

  it('is retried on a 529 named in retry.handle, then read in full past the attempt timeout', async () => {
    const events = eventStream();
    server = await scriptServer(answer(529, { type: 'error', error: { type: 'overloaded_error' } }), events.step);
    const clock = new FakeClock();
    const retried = retries();
    const retryable = (error: unknown) => isRetryableFailure(error) || statusOf(error) === 529;
    const anthropic = new Anthropic({
      apiKey: 'test',
      baseURL: server.url,
      maxRetries: 0,
      fetch: withResilience(fetch, {
        clock,
        random: sequenceRandom(0),
        idempotent: () => true,
        retry: { handle: retryable, onRetry: retried.onRetry },
        timeout: 5_000,
      }),
    });
    const stream = anthropic.messages.stream({
      model: 'claude-test',
      max_tokens: 16,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const final = stream.finalText();
    await until(() => retried.seen.count === 1, 'the backoff');
    await clock.advance(100);
    await until(events.started, 'the stream to start');
    events.send(
      event('message_start', {
        message: {
          id: 'msg_1',
          type: 'message',
          role: 'assistant',
          model: 'claude-test',
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: 1, output_tokens: 0 },
        },
      }),
    );
    events.send(event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }));
    events.send(event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'hel' } }));
    await clock.advance(60_000);
    events.send(event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'lo' } }));
    events.send(event('content_block_stop', { index: 0 }));
    events.send(
      event('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 2 } }),
    );
    events.end(event('message_stop', {}));
    expect(await final).toBe('hello');
    expect(server.seen).toHaveLength(2);
  });
});
