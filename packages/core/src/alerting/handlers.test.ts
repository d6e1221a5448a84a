import { describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { ConfigurationError } from '../errors/errors.js';
import { alerting } from './alerting.js';
import { describeAlert, logHandler, webhookHandler } from './handlers.js';
import type { Alert, WebhookFetch } from './options.js';
import { rule } from './rule.js';

const alert = (over: Partial<Alert> = {}): Alert => ({
  name: 'errors',
  metric: 'errorRate',
  severity: 'critical',
  value: 0.5,
  threshold: 0.1,
  status: 'firing',
  at: 0,
  ...over,
});

const logger = () => ({ error: vi.fn(), warn: vi.fn(), info: vi.fn() });

describe('logHandler', () => {
  it('logs critical alerts at error, warnings at warn, info and resolutions at info', async () => {
    const log = logger();
    const handler = logHandler(log);
    await handler(alert());
    await handler(alert({ severity: 'warning' }));
    await handler(alert({ severity: 'info' }));
    await handler(alert({ status: 'resolved' }));
    expect(log.error).toHaveBeenCalledWith({ alert: alert() }, 'alert errors firing: errorRate = 0.5 (threshold 0.1)');
    expect(log.warn).toHaveBeenCalledTimes(1);
    expect(log.info).toHaveBeenCalledTimes(2);
  });

  it('falls back to warn for a logger without info', async () => {
    const log = { error: vi.fn(), warn: vi.fn() };
    await logHandler(log)(alert({ status: 'resolved' }));
    expect(log.warn).toHaveBeenCalledWith(expect.anything(), describeAlert(alert({ status: 'resolved' })));
  });

  it('rejects a logger without warn and error', () => {
    expect(() => logHandler({} as never)).toThrow(ConfigurationError);
  });
});

type Call = { url: string; init: Parameters<WebhookFetch>[1] };

const answering = (...statuses: Array<number | Error | 'hang'>) => {
  const calls: Call[] = [];
  const fetch: WebhookFetch = (url, init) => {
    calls.push({ url, init });
    const next = statuses[Math.min(calls.length - 1, statuses.length - 1)]!;
    if (next === 'hang') {
      return new Promise((_, reject) => init.signal.addEventListener('abort', () => reject(init.signal.reason)));
    }
    if (next instanceof Error) return Promise.reject(next);
    return Promise.resolve({ ok: next >= 200 && next < 300, status: next, headers: {}, body: null });
  };
  return { fetch, calls };
};

describe('webhookHandler', () => {
  it('POSTs the alert as JSON with the given headers', async () => {
    const { fetch, calls } = answering(204);
    await webhookHandler({ url: 'https://hooks.test/a', fetch, headers: { authorization: 'Bearer t' } })(alert());
    expect(calls).toHaveLength(1);
    expect(calls[0]!.url).toBe('https://hooks.test/a');
    expect(calls[0]!.init.method).toBe('POST');
    expect(calls[0]!.init.headers).toEqual({ 'content-type': 'application/json', authorization: 'Bearer t' });
    expect(JSON.parse(calls[0]!.init.body)).toEqual(alert());
  });

  it('retries 5xx answers and succeeds on a later attempt', async () => {
    const clock = new FakeClock();
    const { fetch, calls } = answering(503, 502, 200);
    const done = webhookHandler({ url: 'https://hooks.test', fetch, clock })(alert());
    await clock.advance(10_000);
    await expect(done).resolves.toBeUndefined();
    expect(calls).toHaveLength(3);
  });

  it('does not retry a 4xx answer', async () => {
    const { fetch, calls } = answering(400);
    await expect(webhookHandler({ url: 'https://hooks.test', fetch })(alert())).rejects.toMatchObject({ status: 400 });
    expect(calls).toHaveLength(1);
  });

  it('aborts an attempt after timeoutMs and retries it', async () => {
    const clock = new FakeClock();
    const { fetch, calls } = answering('hang', 200);
    const done = webhookHandler({ url: 'https://hooks.test', fetch, clock, timeoutMs: 1_000 })(alert());
    await clock.advance(1_000);
    expect(calls[0]!.init.signal.aborted).toBe(true);
    await clock.advance(5_000);
    await expect(done).resolves.toBeUndefined();
    expect(calls).toHaveLength(2);
    expect(clock.pendingTimers).toBe(0);
  });

  it('gives up after maxAttempts and the failure is counted by alerting without breaking evaluation', async () => {
    const clock = new FakeClock();
    const { fetch, calls } = answering(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }));
    const other = vi.fn();
    const alerts = alerting({
      rules: [rule({ name: 'errors', metric: 'errorRate', op: 'gt', threshold: 0.1, severity: 'critical' })],
      handlers: [webhookHandler({ url: 'https://hooks.test', fetch, clock, retry: { maxAttempts: 2 } }), other],
      clock,
    });
    const result = alerts.evaluate({ errorRate: 0.9 });
    await clock.advance(10_000);
    expect(await result).toHaveLength(1);
    expect(calls).toHaveLength(2);
    expect(other).toHaveBeenCalledTimes(1);
    expect(alerts.stats.handlerFailures).toBe(1);
  });

  it('sends a custom body', async () => {
    const { fetch, calls } = answering(200);
    await webhookHandler({ url: 'https://hooks.test', fetch, body: (a) => ({ text: describeAlert(a) }) })(alert());
    expect(JSON.parse(calls[0]!.init.body)).toEqual({ text: describeAlert(alert()) });
  });

  it('rejects bad options naming each one', () => {
    const bad = () =>
      webhookHandler({
        url: '',
        fetch: 'nope' as never,
        timeoutMs: 0,
        headers: { 'x-token': 1 as never },
        retry: 'twice' as never,
        clock: {} as never,
      });
    expect(bad).toThrow(ConfigurationError);
    for (const option of ['url', 'fetch', 'timeoutMs', 'headers', 'retry', 'clock']) expect(bad).toThrow(option);
  });
});
