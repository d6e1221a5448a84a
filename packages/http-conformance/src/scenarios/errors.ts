import {
  BrokenCircuitError,
  BulkheadRejectedError,
  IsolatedCircuitError,
  metrics,
  PROBLEM_TYPES,
  RateLimitExceededError,
  RequestTimeoutError,
  recentErrors,
  StoreUnavailableError,
  TimeoutError,
} from '@resilience/core';
import { expect } from 'vitest';
import { abandonedRequest, deferred } from '../context.js';
import { problemOf, type Scenario } from '../scenario.js';

class ZodError extends Error {
  readonly issues = [{ path: ['amount'], message: 'Expected number' }];
  override name = 'ZodError';
}
const withStatus = (status: number, message: string) => Object.assign(new Error(message), { status });

/** What each error is answered with: status, problem type, Retry-After. */
const TABLE: ReadonlyArray<readonly [string, () => unknown, number, string, string | null]> = [
  ['open breaker', () => new BrokenCircuitError(undefined, 12_500), 503, PROBLEM_TYPES.dependency, '13'],
  ['isolated breaker', () => new IsolatedCircuitError(), 503, PROBLEM_TYPES.dependency, null],
  ['rate limited', () => new RateLimitExceededError(3_000), 429, PROBLEM_TYPES.quota_exceeded, '3'],
  ['full bulkhead', () => new BulkheadRejectedError(10, 0, 1_000), 503, PROBLEM_TYPES.temporary_reduced_capacity, '1'],
  ['request timeout', () => new RequestTimeoutError(5_000), 503, PROBLEM_TYPES.timeout, null],
  ['upstream timeout', () => new TimeoutError(2_000), 504, PROBLEM_TYPES.timeout, null],
  ['store unavailable', () => new StoreUnavailableError('redis down'), 503, PROBLEM_TYPES.dependency, null],
  ['body that does not parse', () => new SyntaxError('Unexpected token'), 400, PROBLEM_TYPES.validation, null],
  ['schema error', () => new ZodError('invalid'), 422, PROBLEM_TYPES.validation, null],
  ['forbidden', () => withStatus(403, 'no access'), 403, PROBLEM_TYPES.auth, null],
  ['not found', () => withStatus(404, 'no order 7'), 404, PROBLEM_TYPES.not_found, null],
  ['bug', () => new TypeError("Cannot read properties of undefined (reading 'id')"), 500, PROBLEM_TYPES.unknown, null],
];

export const errorHandlerScenarios: Scenario[] = [
  {
    area: 'errorHandler',
    name: 'answers each error code with its status, problem type and Retry-After when a retry time is known',
    async run(t) {
      const app = await t.serve([
        t.m.errorHandler({ logger: t.logger() }),
        t.m.route('GET', '/fail', (r) => {
          throw TABLE[Number(r.headers['x-case'])]![1]();
        }),
      ]);
      for (const [i, [name, , status, type, retryAfter]] of TABLE.entries()) {
        const res = await app.fetch('/fail', { headers: { 'x-case': String(i) } });
        expect([name, res.status, res.headers.get('retry-after')]).toEqual([name, status, retryAfter]);
        expect(await problemOf(res)).toMatchObject({ type, status });
      }
    },
  },
  {
    area: 'errorHandler',
    name: 'takes the correlation id from X-Request-Id or traceparent, or makes one, and echoes it; no message or stack unless expose',
    async run(t) {
      const fail = () => {
        throw new Error('password=hunter2 at db-7.internal');
      };
      const app = await t.serve([t.m.errorHandler({ logger: t.logger() }), t.m.route('GET', '/', fail)]);
      const exposed = await t.serve([
        t.m.errorHandler({ expose: true, logger: t.logger() }),
        t.m.route('GET', '/', fail),
      ]);
      const byId = await app.fetch('/', { headers: { 'x-request-id': 'abc-123' } });
      expect(byId.headers.get('x-request-id')).toBe('abc-123');
      const body = await problemOf(byId);
      expect(body).toMatchObject({ status: 500, category: 'unknown', correlationId: 'abc-123' });
      expect(JSON.stringify(body)).not.toMatch(/hunter2|db-7|stack/);
      const traced = await app.fetch('/', {
        headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
      });
      expect((await problemOf(traced)).correlationId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
      const made = await app.fetch('/', { headers: { 'x-request-id': 'bad id\twith tab' } });
      const id = made.headers.get('x-request-id');
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect((await problemOf(made)).correlationId).toBe(id);
      const shown = await problemOf(await exposed.fetch('/'));
      expect(shown.detail).toBe('password=hunter2 at db-7.internal');
      expect(shown.stack).toEqual(expect.stringContaining('Error: password=hunter2'));
    },
  },
  {
    area: 'errorHandler',
    name: 'records server errors into the recent-errors list and the collector, and logs them with their correlation id',
    async run(t) {
      const errors = recentErrors({ max: 10 });
      const stats = metrics();
      const logger = t.logger();
      const app = await t.serve([
        t.m.errorHandler({ recentErrors: errors, collector: stats, logger }),
        t.m.route('GET', '/boom', () => {
          throw new TimeoutError(1_000);
        }),
        t.m.route('GET', '/missing', () => {
          throw withStatus(404, 'no such order');
        }),
      ]);
      expect((await app.fetch('/boom', { headers: { 'x-request-id': 'r-1' } })).status).toBe(504);
      expect((await app.fetch('/missing')).status).toBe(404);
      expect(errors.list()).toEqual([
        expect.objectContaining({ category: 'timeout', status: 504, correlationId: 'r-1', code: 'timeout' }),
      ]);
      expect(stats.snapshot().errorsByCategory.timeout).toBe(1);
      expect(logger.lines).toEqual([
        expect.objectContaining({ level: 'error', fields: expect.objectContaining({ correlationId: 'r-1' }) }),
      ]);
    },
  },
  {
    area: 'signals',
    name: 'a client that disconnects mid-request aborts the request signal and is recorded once, as 499 (cancelled)',
    async run(t) {
      const errors = recentErrors({ max: 10 });
      const stats = metrics();
      const entered = deferred();
      const aborted = deferred<unknown>();
      const recorded = deferred();
      const list = {
        record: (error: unknown, context: Parameters<typeof errors.record>[1]) => {
          const entry = errors.record(error, context);
          recorded.resolve();
          return entry;
        },
      };
      const app = await t.serve([
        t.m.errorHandler({ recentErrors: list, collector: stats, logger: t.logger() }),
        t.m.route('GET', '/wait', async (r) => {
          const signal = r.signal();
          entered.resolve();
          await new Promise((_, reject) =>
            signal.addEventListener('abort', () => {
              aborted.resolve(signal.reason);
              reject(signal.reason);
            }),
          );
          return {};
        }),
      ]);
      await abandonedRequest(app.port, { path: '/wait' }, entered.promise);
      const reason = (await aborted.promise) as Error;
      expect(reason.name).toBe('ClientDisconnectedError');
      await recorded.promise;
      expect(errors.list()).toEqual([expect.objectContaining({ status: 499, category: 'cancelled' })]);
      const snapshot = stats.snapshot();
      expect(snapshot.errorsByCategory.cancelled).toBe(1);
      expect([snapshot.calls, snapshot.failed]).toEqual([0, 0]);
      // The server goes on.
      expect((await app.fetch('/missing')).status).toBe(404);
    },
  },
];
