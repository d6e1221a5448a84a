import { SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { backoff, bulkhead, circuitBreaker, consecutive, hedge, pipeline, retry, timeout } from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { describe, expect, it } from 'vitest';
import { instrument } from './instrument.js';
import { networkError, sdk, useContextManager } from './sdk.fixture.js';

useContextManager();

const named = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const idOf = (span: ReadableSpan) => span.spanContext().spanId;

describe('spans', () => {
  it('a retried call makes one resilience.call span under the caller’s span, and one resilience.attempt child per attempt', async () => {
    const clock = new FakeClock();
    const otel = sdk();
    const policy = retry({ maxAttempts: 3, backoff: backoff.constant(100), handle: () => true, clock });
    instrument(policy, { name: 'payments', tracerProvider: otel.tracerProvider });
    const activeInFn: string[] = [];
    const tracer = otel.tracerProvider.getTracer('app');
    const call = tracer.startActiveSpan('request', (request) =>
      policy
        .execute(({ attempt }) => {
          activeInFn.push(trace.getActiveSpan()!.spanContext().spanId);
          return attempt < 3 ? Promise.reject(networkError()) : 'paid';
        })
        .finally(() => request.end()),
    );
    await clock.runAll();
    await expect(call).resolves.toBe('paid');

    const spans = otel.spans();
    const [request] = named(spans, 'request');
    const calls = named(spans, 'resilience.call');
    const attempts = named(spans, 'resilience.attempt');
    expect(calls).toHaveLength(1);
    expect(attempts).toHaveLength(3);
    expect(parentOf(calls[0]!)).toBe(idOf(request!));
    expect(calls[0]!.attributes).toEqual({ 'resilience.policy.name': 'payments', 'resilience.outcome': 'success' });
    expect(attempts.map(parentOf)).toEqual([idOf(calls[0]!), idOf(calls[0]!), idOf(calls[0]!)]);
    expect(attempts.map((s) => s.attributes)).toEqual([
      {
        'resilience.policy.name': 'payments',
        'resilience.attempt': 1,
        'resilience.attempt.delay': 0,
        'resilience.outcome': 'failure',
        'error.type': 'ECONNRESET',
      },
      {
        'resilience.policy.name': 'payments',
        'resilience.attempt': 2,
        'resilience.attempt.delay': 0.1,
        'resilience.outcome': 'failure',
        'error.type': 'ECONNRESET',
      },
      {
        'resilience.policy.name': 'payments',
        'resilience.attempt': 3,
        'resilience.attempt.delay': 0.1,
        'resilience.outcome': 'success',
      },
    ]);
    expect(attempts.map((s) => s.status.code)).toEqual([
      SpanStatusCode.ERROR,
      SpanStatusCode.ERROR,
      SpanStatusCode.UNSET,
    ]);
    // The function runs inside its attempt's span, so the spans it makes (an HTTP client's) nest under it.
    expect(activeInFn).toEqual(attempts.map(idOf));
  });

  it('records the final outcome and error.type on the call span of a call that gave up', async () => {
    const otel = sdk();
    const policy = retry({ maxAttempts: 2, backoff: backoff.constant(0), handle: () => true });
    instrument(policy, { name: 'search', tracerProvider: otel.tracerProvider });
    await expect(policy.execute(() => Promise.reject(networkError()))).rejects.toThrow('Gave up');
    const [call] = named(otel.spans(), 'resilience.call');
    expect(call!.attributes).toMatchObject({ 'resilience.outcome': 'failure', 'error.type': 'retry_exhausted' });
    expect(call!.status.code).toBe(SpanStatusCode.ERROR);
    expect(call!.parentSpanContext).toBeUndefined(); // no caller span: a root
  });

  it('a breaker that opens adds a state-change event to the span of the call that opened it; its rejections are rejected calls', async () => {
    const otel = sdk();
    const breaker = circuitBreaker({ strategy: consecutive(1), registry: false, name: 'payments' });
    instrument(breaker, { name: 'payments', tracerProvider: otel.tracerProvider });
    await breaker.execute(() => Promise.reject(networkError())).catch(() => {});
    await breaker.execute(() => 'unreachable').catch(() => {});
    const [opening, rejected] = named(otel.spans(), 'resilience.call');
    expect(opening!.events.map((e) => [e.name, e.attributes])).toEqual([
      [
        'resilience.breaker.state_change',
        {
          'resilience.policy.name': 'payments',
          'resilience.breaker.state': 'open',
          'resilience.breaker.previous_state': 'closed',
        },
      ],
    ]);
    expect(rejected!.attributes).toMatchObject({ 'resilience.outcome': 'rejected', 'error.type': 'circuit_open' });
  });

  it('a hedge adds a resilience.hedge event to its call’s span and runs in an attempt span of its own', async () => {
    const clock = new FakeClock();
    const otel = sdk();
    const policy = hedge({ delayMs: 10, maxHedges: 1, clock });
    instrument(policy, { name: 'search', tracerProvider: otel.tracerProvider });
    let attempts = 0;
    const call = policy.execute(
      ({ signal }) =>
        new Promise<string>((resolve, reject) => {
          if (++attempts === 2) return resolve('hedge answered');
          signal.addEventListener('abort', () => reject(signal.reason));
        }),
    );
    await clock.advance(10);
    await expect(call).resolves.toBe('hedge answered');
    const [span] = named(otel.spans(), 'resilience.call');
    expect(span!.events.map((e) => [e.name, e.attributes])).toEqual([
      ['resilience.hedge', { 'resilience.attempt': 2, 'resilience.attempt.delay': 0.01 }],
    ]);
    const spans = named(otel.spans(), 'resilience.attempt');
    expect(spans.map((s) => [s.attributes['resilience.attempt'], s.attributes['resilience.outcome']])).toEqual([
      [2, 'success'],
      [1, 'cancelled'],
    ]);
    // The loser did not fail (another attempt answered): no ERROR status to count against a call that succeeded.
    expect(spans.map((s) => s.status.code)).toEqual([SpanStatusCode.UNSET, SpanStatusCode.UNSET]);
    expect(spans.map(parentOf)).toEqual([idOf(span!), idOf(span!)]);
  });

  it('a hedge the shared delay timer starts nests under its own call, not the call that armed the timer', async () => {
    const clock = new FakeClock();
    const otel = sdk();
    const policy = hedge({ delayMs: 10, maxHedges: 1, clock });
    instrument(policy, { name: 'search', tracerProvider: otel.tracerProvider });
    const tracer = otel.tracerProvider.getTracer('app');
    const seen: Array<[string, string]> = []; // [request, the span active in the function]
    const request = (name: string) =>
      tracer.startActiveSpan(name, (span) =>
        policy
          .execute(({ signal }) => {
            seen.push([name, trace.getActiveSpan()!.spanContext().spanId]);
            if (seen.filter(([n]) => n === name).length === 2) return 'hedge answered';
            return new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
          })
          .finally(() => span.end()),
      );
    const first = request('first');
    await clock.advance(5);
    const second = request('second');
    await clock.advance(20);
    await Promise.all([first, second]);
    expect(seen.map(([name]) => name)).toEqual(['first', 'second', 'first', 'second']);
    const byId = new Map(otel.spans().map((s) => [idOf(s), s]));
    for (const [name, attemptId] of seen) {
      const attempt = byId.get(attemptId)!;
      const call = byId.get(parentOf(attempt)!)!;
      expect([attempt.name, call.name, byId.get(parentOf(call)!)!.name]).toEqual([
        'resilience.attempt',
        'resilience.call',
        name,
      ]);
    }
  });

  it('a call queued by a bulkhead runs in its own trace, not in that of the call that freed the slot', async () => {
    const otel = sdk();
    const policy = pipeline(bulkhead({ limit: 1, queue: 1 }), retry());
    instrument(policy, { name: 'db', tracerProvider: otel.tracerProvider });
    const tracer = otel.tracerProvider.getTracer('app');
    let release!: () => void;
    const seen: string[] = []; // the trace each function runs in
    const request = (name: string, fn: () => unknown) =>
      tracer.startActiveSpan(name, (span) =>
        policy
          .execute(() => {
            seen.push(trace.getActiveSpan()!.spanContext().traceId);
            return fn();
          })
          .finally(() => span.end()),
      );
    const first = request('first', () => new Promise<void>((r) => (release = r)));
    const second = request('second', () => 'done');
    release();
    await Promise.all([first, second]);
    const traceOf = (name: string) => named(otel.spans(), name)[0]!.spanContext().traceId;
    expect(seen).toEqual([traceOf('first'), traceOf('second')]);
  });

  it('an attempt cut short by a timeout carries a resilience.timeout event with the limit in seconds', async () => {
    const clock = new FakeClock();
    const otel = sdk();
    const policy = pipeline(retry({ maxAttempts: 2, backoff: backoff.constant(0), clock }), timeout(50, { clock }));
    instrument(policy, { name: 'slow', tracerProvider: otel.tracerProvider });
    const call = policy.execute(() => new Promise(() => {})).catch((e: unknown) => e);
    await clock.advance(50);
    await clock.advance(50);
    await call;
    const attempts = named(otel.spans(), 'resilience.attempt');
    expect(attempts).toHaveLength(2);
    for (const span of attempts) {
      expect(span.attributes['error.type']).toBe('timeout');
      expect(span.events.map((e) => [e.name, e.attributes])).toEqual([
        ['resilience.timeout', { 'resilience.timeout.limit': 0.05 }],
      ]);
    }
  });

  it('a call its caller aborts during a retry wait is cancelled with error.type AbortError, not DOMException’s legacy code 20', async () => {
    const clock = new FakeClock();
    const otel = sdk();
    const policy = retry({ maxAttempts: 3, backoff: backoff.constant(100), handle: () => true, clock });
    const providers = { tracerProvider: otel.tracerProvider, meterProvider: otel.meterProvider };
    instrument(policy, { name: 'payments', clock, ...providers });
    const caller = new AbortController();
    const call = policy.execute(() => Promise.reject(networkError()), caller.signal).catch((e: unknown) => e);
    await clock.advance(10); // in the wait before the second attempt
    caller.abort(); // a DOMException, whose numeric code (20) is the same for every abort
    expect(await call).toBeInstanceOf(DOMException);
    const [span] = named(otel.spans(), 'resilience.call');
    expect(span!.attributes).toMatchObject({ 'resilience.outcome': 'cancelled', 'error.type': 'AbortError' });
    const [duration] = await otel.points('resilience.call.duration');
    expect(duration?.attributes['error.type']).toBe('AbortError');
    // AbortSignal.timeout()'s TimeoutError (code 23) is named too.
    const deadline = new AbortController();
    const late = policy.execute(() => Promise.reject(networkError()), deadline.signal).catch((e: unknown) => e);
    await clock.advance(10);
    deadline.abort(new DOMException('late', 'TimeoutError'));
    expect(await late).toBeInstanceOf(DOMException);
    expect(named(otel.spans(), 'resilience.call')[1]?.attributes['error.type']).toBe('TimeoutError');
  });

  it('an error whose properties throw when read still ends every span, and the caller gets that error', async () => {
    const otel = sdk();
    // handle decides without reading the error (core's default classification reads code).
    const policy = retry({ maxAttempts: 2, handle: () => false });
    instrument(policy, { name: 'payments', tracerProvider: otel.tracerProvider, meterProvider: otel.meterProvider });
    // A driver's error with a lazy getter that fails (a revoked proxy, a closed handle).
    const failure = new Error('connection closed');
    Object.defineProperty(failure, 'code', {
      get() {
        throw new Error('getter failed');
      },
    });
    await expect(policy.execute(() => Promise.reject(failure))).rejects.toBe(failure);
    const spans = otel.spans();
    expect(spans.map((s) => [s.name, s.attributes['resilience.outcome'], s.attributes['error.type']])).toEqual([
      ['resilience.attempt', 'failure', '_OTHER'],
      ['resilience.call', 'failure', '_OTHER'],
    ]);
    expect(spans.map((s) => s.status.code)).toEqual([SpanStatusCode.ERROR, SpanStatusCode.ERROR]);
    const [duration] = await otel.points<{ count: number }>('resilience.call.duration');
    expect([duration?.attributes['error.type'], duration?.value.count]).toEqual(['_OTHER', 1]);
  });

  it('stops tracing once disposed', async () => {
    const otel = sdk();
    const policy = retry();
    const stop = instrument(policy, { name: 'payments', tracerProvider: otel.tracerProvider });
    await policy.execute(() => 1);
    stop();
    stop();
    await policy.execute(() => 1);
    expect(otel.spans().map((s) => s.name)).toEqual(['resilience.attempt', 'resilience.call']);
  });
});
