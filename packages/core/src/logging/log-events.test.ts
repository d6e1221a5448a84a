import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { TimeoutError } from '../errors/errors.js';
import { Emitter } from '../events/emitter.js';
import { backoff } from '../retry/backoff.js';
import { retry } from '../retry/retry.js';
import { eventLogger, logEvents } from './log-events.js';
import { LOG_EVENTS_DEFAULTS } from './options.js';

type Level = 'debug' | 'info' | 'warn' | 'error';
interface Line {
  level: Level;
  fields: Record<string, unknown>;
  msg: string;
}

/** Records calls the way pino receives them: `logger.warn(fields, message)`. */
function fakeLogger(withDebug = true) {
  const lines: Line[] = [];
  const at = (level: Level) => (fields: object, msg: string) => {
    lines.push({ level, fields: fields as Record<string, unknown>, msg });
  };
  const logger = {
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    ...(withDebug ? { debug: at('debug') } : {}),
  };
  return { logger, lines };
}

const source = () => {
  const events = new Emitter<object>();
  return { events, onEvent: events.subscribe };
};

const econnreset = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });

describe('logEvents', () => {
  it('pins its default levels', () => {
    expect(LOG_EVENTS_DEFAULTS).toEqual({
      levels: { success: 'off', failure: 'debug', retry: 'warn', give_up: 'error', rejected: 'warn', timeout: 'warn' },
      otherLevel: 'info',
    });
  });

  it('logs a retry policy: a warn per retry with attempt, delay and error category, an error on give-up', async () => {
    const clock = new FakeClock();
    const policy = retry({ maxAttempts: 2, backoff: backoff.constant(200), clock, name: 'llm' });
    const { logger, lines } = fakeLogger(false);
    logEvents(policy, logger, { correlationId: () => 'req-42' });
    const call = policy.execute(() => Promise.reject(econnreset())).catch((e: unknown) => e);
    await clock.advance(200);
    await call;
    expect(lines).toEqual([
      {
        level: 'warn',
        fields: {
          event: 'retry',
          policy: 'llm',
          attempt: 1,
          delayMs: 200,
          errorCategory: 'network',
          errorMessage: 'socket hang up',
          errorName: 'Error',
          correlationId: 'req-42',
        },
        msg: 'llm: attempt 1 failed (network), retrying in 200 ms',
      },
      {
        level: 'error',
        fields: {
          event: 'give_up',
          policy: 'llm',
          attempts: 2,
          reason: 'max_attempts',
          errorCategory: 'network',
          errorMessage: 'socket hang up',
          errorName: 'Error',
          correlationId: 'req-42',
        },
        msg: 'llm: gave up after 2 attempt(s) (max_attempts)',
      },
    ]);
  });

  it('cuts an error message over 1 000 characters, so an upstream’s huge message makes no huge log line', async () => {
    const policy = retry({ maxAttempts: 1, clock: new FakeClock() });
    const { logger, lines } = fakeLogger(false);
    logEvents(policy, logger);
    await policy.execute(() => Promise.reject(new Error('x'.repeat(1_000_000)))).catch(() => {});
    const message = (lines.at(-1)!.fields as { errorMessage: string }).errorMessage;
    expect(message).toBe(`${'x'.repeat(1_000)}…`);
  });

  it('cuts an error message between characters, never inside an emoji (half of one has no UTF-8 form)', async () => {
    const policy = retry({ maxAttempts: 1, clock: new FakeClock() });
    const { logger, lines } = fakeLogger(false);
    logEvents(policy, logger);
    await policy.execute(() => Promise.reject(new Error(`${'x'.repeat(999)}😀${'y'.repeat(5_000)}`))).catch(() => {});
    const message = (lines.at(-1)!.fields as { errorMessage: string }).errorMessage;
    expect(message).toBe(`${'x'.repeat(999)}…`);
  });

  it("hides a quoted URL's credentials, query and fragment, as recentErrors does", async () => {
    const policy = retry({ maxAttempts: 1, clock: new FakeClock() });
    const { logger, lines } = fakeLogger(false);
    logEvents(policy, logger);
    const refused = new TypeError(
      'Request cannot be constructed from a URL that includes credentials: https://u:pw@db-7/x?token=abc#t',
    );
    await policy.execute(() => Promise.reject(refused)).catch(() => {});
    const message = (lines.at(-1)!.fields as { errorMessage: string }).errorMessage;
    expect(message).toBe('Request cannot be constructed from a URL that includes credentials: https://…@db-7/x?…#…');
  });

  it('writes single failures at debug when the logger has debug, and never successes by default', async () => {
    const clock = new FakeClock();
    const policy = retry({ maxAttempts: 2, backoff: backoff.constant(10), clock });
    const { logger, lines } = fakeLogger();
    logEvents(policy, logger);
    let first = true;
    const call = policy.execute(() => {
      if (first) {
        first = false;
        throw econnreset();
      }
      return 'ok';
    });
    await clock.advance(10);
    await call;
    expect(lines.map((l) => `${l.level} ${l.fields.event}`)).toEqual(['debug failure', 'warn retry']);
    expect(lines[0]?.msg).toBe('retry: attempt 1 failed (network)');
    expect(lines[0]?.fields).not.toHaveProperty('correlationId');
  });

  it('logs breaker state changes at a level that follows the new state', () => {
    const s = source();
    const { logger, lines } = fakeLogger();
    logEvents(s, logger);
    s.events.emit({ type: 'state_change', policy: 'payments', from: 'closed', to: 'open' });
    s.events.emit({ type: 'state_change', policy: 'payments', from: 'open', to: 'half-open' });
    s.events.emit({ type: 'state_change', policy: 'payments', from: 'half-open', to: 'closed' });
    expect(lines.map((l) => l.level)).toEqual(['error', 'warn', 'info']);
    expect(lines[0]).toEqual({
      level: 'error',
      fields: { event: 'state_change', policy: 'payments', from: 'closed', to: 'open', state: 'open' },
      msg: 'payments: circuit closed -> open',
    });
  });

  it('logs rejections and timeouts as warnings with their own fields', () => {
    const s = source();
    const { logger, lines } = fakeLogger();
    logEvents(s, logger);
    s.events.emit({ type: 'rejected', policy: 'payments', state: 'open', retryAfterMs: 3_000 });
    s.events.emit({ type: 'timeout', policy: 'db', timeoutMs: 500, action: 'abort' });
    s.events.emit({ type: 'rejected', policy: 'pool', executionSlots: 0, queueSlots: 0 });
    expect(lines).toEqual([
      {
        level: 'warn',
        fields: { event: 'rejected', policy: 'payments', state: 'open', retryAfterMs: 3_000 },
        msg: 'payments: call rejected (circuit open)',
      },
      {
        level: 'warn',
        fields: { event: 'timeout', policy: 'db', timeoutMs: 500, action: 'abort' },
        msg: 'db: timed out after 500 ms',
      },
      {
        level: 'warn',
        fields: { event: 'rejected', policy: 'pool', executionSlots: 0, queueSlots: 0 },
        msg: 'pool: call rejected',
      },
    ]);
  });

  it('classifies our own errors', () => {
    const s = source();
    const { logger, lines } = fakeLogger();
    logEvents(s, logger);
    s.events.emit({ type: 'failure', policy: 'breaker', error: new TimeoutError(100), durationMs: 100 });
    expect(lines[0]?.fields).toMatchObject({ errorCategory: 'timeout', errorName: 'TimeoutError', durationMs: 100 });
  });

  it('follows the levels option, including turning events on and off', () => {
    const s = source();
    const { logger, lines } = fakeLogger();
    logEvents(s, logger, { levels: { success: 'info', retry: 'off', state_change: 'warn' } });
    s.events.emit({ type: 'success', policy: 'p', attempts: 1 });
    s.events.emit({ type: 'retry', policy: 'p', attempt: 1, delayMs: 5, error: new Error('x') });
    s.events.emit({ type: 'state_change', policy: 'p', from: 'closed', to: 'open' });
    expect(lines.map((l) => `${l.level} ${l.msg}`)).toEqual([
      'info p: succeeded after 1 attempt(s)',
      'warn p: circuit closed -> open',
    ]);
  });

  it('logs alerts by severity when used as an alerting handler', () => {
    const { logger, lines } = fakeLogger();
    const handler = eventLogger(logger);
    const alert = {
      name: 'high_error_rate',
      metric: 'errorRate',
      severity: 'critical',
      value: 0.3,
      threshold: 0.2,
      at: 0,
    };
    handler({ ...alert, status: 'firing' });
    handler({ ...alert, severity: 'warning', status: 'firing' });
    handler({ ...alert, status: 'resolved' });
    expect(lines.map((l) => l.level)).toEqual(['error', 'warn', 'info']);
    expect(lines[0]).toEqual({
      level: 'error',
      fields: {
        event: 'alert',
        alert: 'high_error_rate',
        metric: 'errorRate',
        severity: 'critical',
        value: 0.3,
        threshold: 0.2,
        status: 'firing',
      },
      msg: 'alert high_error_rate firing: errorRate = 0.3 (threshold 0.2)',
    });
  });

  it('logs unknown event types at info with their plain fields', () => {
    const s = source();
    const { logger, lines } = fakeLogger();
    logEvents(s, logger);
    s.events.emit({ type: 'hedge', policy: 'h', hedges: 2, detail: { nested: true } });
    expect(lines).toEqual([{ level: 'info', fields: { event: 'hedge', policy: 'h', hedges: 2 }, msg: 'h: hedge' }]);
  });

  it('stops logging when disposed', () => {
    const s = source();
    const { logger, lines } = fakeLogger();
    const stop = logEvents(s, logger);
    stop();
    s.events.emit({ type: 'timeout', policy: 'db', timeoutMs: 1 });
    expect(lines).toEqual([]);
    expect(s.events.hasListeners).toBe(false);
  });

  it('rejects a logger without the pino methods, a bad level or a source without onEvent', () => {
    expect(() => logEvents(source(), { info() {} } as never)).toThrow(/logger/);
    expect(() => logEvents(source(), fakeLogger().logger, { levels: { retry: 'loud' as never } })).toThrow(
      /levels\.retry/,
    );
    expect(() => logEvents({} as never, fakeLogger().logger)).toThrow(/source/);
  });
});
