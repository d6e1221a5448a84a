import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  BrokenCircuitError,
  BulkheadRejectedError,
  fixedWindow,
  IsolatedCircuitError,
  metrics,
  PROBLEM_JSON_CONTENT_TYPE,
  PROBLEM_TYPES,
  RateLimitExceededError,
  RequestTimeoutError,
  recentErrors,
  StoreUnavailableError,
  TimeoutError,
} from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { expect } from 'vitest';
import { abandonedRequest, deferred, leftWhileWaiting } from '../context.js';
import { problemOf, type Scenario } from '../scenario.js';
import { downStore } from './rate-limit.js';

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
  // A failure whose message quotes the client ("rate limit"): a server failure, not a 429 that hides it.
  ['message quoting the client', () => new Error('no such sku: rate limit'), 500, PROBLEM_TYPES.unknown, null],
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
    name: "a plain Error quoting the client's text ('forbidden', 'timed out') is a 500, recorded and logged: no status from a message",
    async run(t) {
      const collector = metrics();
      const recent = recentErrors({ max: 10 });
      const logger = t.logger();
      const app = await t.serve([
        t.m.errorHandler({ collector, recentErrors: recent, logger }),
        t.m.route('GET', '/search', (r) => {
          throw new Error(`user input: ${new URL(r.path, 'http://x').searchParams.get('q')}`);
        }),
      ]);
      const words = ['forbidden', 'unauthorized', 'timed out', 'rate limit', 'connection reset'];
      for (const q of words) {
        const res = await app.fetch(`/search?q=${encodeURIComponent(q)}`);
        expect([q, res.status, res.headers.get('www-authenticate')]).toEqual([q, 500, null]);
        expect(await problemOf(res)).toMatchObject({ status: 500, type: PROBLEM_TYPES.unknown });
      }
      expect(recent.list().map((e) => e.status)).toEqual(words.map(() => 500));
      expect(logger.lines.filter((l) => l.level === 'error')).toHaveLength(words.length);
      const counted = Object.values(collector.snapshot().errorsByCategory).reduce((a, b) => a + b, 0);
      expect(counted).toBe(words.length);
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
    name: "logs a 5xx on one line: its message's control, separator and bidi characters escaped, cut to 500 characters; the field keeps it whole",
    async run(t) {
      const logger = t.logger();
      // A message quoting what the client sent: a forged second line, a terminal colour, a reversal.
      const message = `no order x\r\n2026-01-01T00:00:00Z INFO admin logged in \u001b[31mred\u2028\u202egnp.exe${'y'.repeat(600)}`;
      const app = await t.serve([
        t.m.errorHandler({ logger }),
        t.m.route('GET', '/', () => {
          throw new Error(message);
        }),
      ]);
      expect((await app.fetch('/')).status).toBe(500);
      const line = logger.lines.find((l) => l.level === 'error')!;
      expect(line.message).not.toMatch(/[\p{Cc}\u2028\u202e]/u);
      expect(line.message).toContain(
        'no order x\\u{d}\\u{a}2026-01-01T00:00:00Z INFO admin logged in \\u{1b}[31mred\\u{2028}\\u{202e}gnp.exe',
      );
      expect(line.message).toMatch(/y…$/);
      expect(line.message.length).toBeLessThan(600);
      expect(line.fields).toMatchObject({ error: { message } });
    },
  },
  {
    area: 'errorHandler',
    name: "logs a 5xx without a quoted URL's credentials, query and fragment, in the text and in the error field",
    async run(t) {
      const logger = t.logger();
      const refused =
        'Request cannot be constructed from a URL that includes credentials: https://u:pw@db-7/x?token=abc#t';
      const app = await t.serve([
        t.m.errorHandler({ logger }),
        t.m.route('GET', '/', () => {
          throw new TypeError(refused);
        }),
      ]);
      expect((await app.fetch('/')).status).toBe(500);
      const line = logger.lines.find((l) => l.level === 'error')!;
      const hidden = 'includes credentials: https://…@db-7/x?…#…';
      expect(line.message).toContain(hidden);
      const { error } = line.fields as { error: { message: string; stack: string } };
      expect(error.message).toContain(hidden);
      expect(error.stack).toContain(hidden);
      expect(JSON.stringify(line)).not.toMatch(/pw@|token=abc|#t\b/);
    },
  },
  {
    area: 'errorHandler',
    name: "keeps an http-errors error's Allow and Retry-After headers and its exposed 4xx message, as Koa's and Express's own error paths do",
    async run(t) {
      const app = await t.serve([
        t.m.errorHandler({ logger: t.logger() }),
        t.m.route('GET', '/405', () => {
          throw Object.assign(new Error('Method Not Allowed'), {
            status: 405,
            expose: true,
            headers: { Allow: 'POST' },
          });
        }),
        t.m.route('GET', '/503', () => {
          throw Object.assign(new Error('db-7 in maintenance'), { status: 503, headers: { 'Retry-After': '120' } });
        }),
        t.m.route('GET', '/400', () => {
          throw Object.assign(new Error('name is required'), { status: 400, expose: true });
        }),
      ]);
      const notAllowed = await app.fetch('/405');
      expect([notAllowed.status, notAllowed.headers.get('allow')]).toEqual([405, 'POST']);
      const down = await app.fetch('/503');
      expect([down.status, down.headers.get('retry-after')]).toEqual([503, '120']);
      expect(await problemOf(down)).not.toHaveProperty('detail');
      const invalid = await app.fetch('/400');
      expect(await problemOf(invalid)).toMatchObject({ status: 400, detail: 'name is required' });
    },
  },
  {
    area: 'errorHandler',
    name: "a handler that set its body's headers and then failed: the problem goes out without them (length, encoding, validators, caching), other headers kept",
    async run(t) {
      const app = await t.serve([
        t.m.errorHandler({ logger: t.logger() }),
        t.m.route('GET', '/download', () => ({
          // A download that fails after its headers were set, before a byte was sent.
          headers: {
            'content-length': '5000',
            'content-encoding': 'gzip',
            'content-disposition': 'attachment; filename="report.csv.gz"',
            etag: '"v7"',
            'last-modified': 'Wed, 21 Oct 2015 07:28:00 GMT',
            'cache-control': 'public, max-age=3600',
            expires: 'Thu, 01 Dec 2094 16:00:00 GMT',
            'content-security-policy': "default-src 'none'",
            'access-control-allow-origin': '*',
          },
          fail: new Error('ENOENT: report.csv.gz'),
        })),
      ]);
      const res = await app.fetch('/download');
      const gone = ['content-encoding', 'content-disposition', 'etag', 'last-modified', 'expires'];
      expect(gone.map((name) => res.headers.get(name))).toEqual(gone.map(() => null));
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('content-security-policy')).toBe("default-src 'none'");
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      const length = res.headers.get('content-length');
      expect(length).not.toBe('5000');
      const text = await res.text();
      expect(Buffer.byteLength(text)).toBe(Number(length ?? Buffer.byteLength(text)));
      expect(JSON.parse(text)).toMatchObject({ status: 500, type: PROBLEM_TYPES.unknown });
    },
  },
  {
    area: 'errorHandler',
    name: 'the CDN caching fields set for the body (CDN-Cache-Control, Surrogate-Control, RFC 9213) become no-store too: no CDN keeps the problem for the page life',
    async run(t) {
      const CDN = ['cdn-cache-control', 'cloudflare-cdn-cache-control', 'surrogate-control'];
      const app = await t.serve([
        t.m.errorHandler({ logger: t.logger() }),
        t.m.route('GET', '/page', () => ({
          // A CDN obeys its own field over Cache-Control: the one a page set it to keep for a day.
          headers: { 'cache-control': 'max-age=60', ...Object.fromEntries(CDN.map((n) => [n, 'max-age=86400'])) },
          fail: new Error('the database is down'),
        })),
      ]);
      const res = await app.fetch('/page');
      await res.arrayBuffer();
      expect([res.status, ...[...CDN, 'cache-control'].map((n) => res.headers.get(n))]).toEqual([
        500,
        ...[...CDN, 'cache-control'].map(() => 'no-store'),
      ]);
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
    area: 'errorHandler',
    name: 'answers, records and logs a thrown value with no string form, one whose message getter throws, or a Proxy whose every read throws',
    async run(t) {
      const errors = recentErrors({ max: 10 });
      const revoked = Proxy.revocable(new Error('gone'), {});
      revoked.revoke();
      const trapped = new Proxy(new Error('trapped'), {
        has() {
          throw new Error('has');
        },
        get() {
          throw new Error('get');
        },
      });
      const logger = t.logger();
      const app = await t.serve([
        t.m.errorHandler({ recentErrors: errors, logger }),
        t.m.route('GET', '/formless', () => {
          throw Object.create(null);
        }),
        t.m.route('GET', '/getter', () => {
          throw {
            get message(): string {
              throw new Error('getter');
            },
          };
        }),
        t.m.route('GET', '/revoked', () => {
          throw revoked.proxy;
        }),
        t.m.route('GET', '/trapped', () => {
          throw trapped;
        }),
      ]);
      for (const path of ['/formless', '/getter', '/revoked', '/trapped']) {
        const answer = await app.fetch(path);
        expect([path, answer.status, answer.headers.get('content-type')]).toEqual([
          path,
          500,
          PROBLEM_JSON_CONTENT_TYPE,
        ]);
      }
      expect(errors.list()).toHaveLength(4);
      expect(logger.lines.map((line) => line.level)).toEqual(['error', 'error', 'error', 'error']);
    },
  },
  {
    area: 'errorHandler',
    name: 'logs a failure met before any route with the method and path, never the query',
    async run(t) {
      const logger = t.logger();
      const app = await t.serve([
        t.m.errorHandler({ logger }),
        t.m.rateLimit({
          algorithm: fixedWindow({ limit: 5, windowMs: 60_000 }),
          store: downStore(),
          onStoreError: 'closed',
          logger: t.logger(),
        }),
        t.m.route('GET', '/orders/:id', () => ({ json: {} })),
      ]);
      expect((await app.fetch('/orders/42?token=secret')).status).toBe(503);
      expect(logger.lines).toEqual([
        expect.objectContaining({
          level: 'warn',
          fields: expect.objectContaining({ path: '/orders/42', code: 'store_unavailable' }),
          message: expect.stringMatching(/^GET \/orders\/42 refused \(store_unavailable\)/),
        }),
      ]);
      expect(JSON.stringify(logger.lines)).not.toMatch(/secret/);
    },
  },
  {
    area: 'errorHandler',
    name: "records the toolkit's own 5xx answers once (a shed, a failed store under rateLimit and idempotency) and none of its 4xx decisions (429, idempotency's 400 and 422)",
    async run(t) {
      const errors = recentErrors({ max: 10 });
      const stats = metrics();
      const handler = () => t.m.errorHandler({ recentErrors: errors, collector: stats, logger: t.logger() });
      const entered = deferred();
      const release = deferred();
      const shed = await t.serve([
        handler(),
        t.m.loadShedding({ maxConcurrent: 1 }),
        t.m.route('GET', '/', async () => {
          entered.resolve();
          await release.promise;
          return { json: {} };
        }),
      ]);
      const limitStore = await t.serve([
        handler(),
        t.m.rateLimit({
          algorithm: fixedWindow({ limit: 5, windowMs: 60_000 }),
          store: downStore(),
          onStoreError: 'closed',
          logger: t.logger(),
        }),
        t.m.route('GET', '/', () => ({ json: {} })),
      ]);
      const keyStore = await t.serve([
        handler(),
        t.m.idempotency({ store: downStore(), logger: t.logger() }),
        t.m.route('POST', '/', () => ({ status: 201, json: {} })),
      ]);
      const decisions = await t.serve([
        handler(),
        // On a clock that stands still: the system's could start a new window before the fourth.
        t.m.rateLimit({
          algorithm: fixedWindow({ limit: 3, windowMs: 60_000 }),
          logger: t.logger(),
          clock: new FakeClock(0),
        }),
        t.m.idempotency({ logger: t.logger() }),
        t.m.route('POST', '/', () => ({ status: 201, json: {} })),
      ]);
      const post = (body: string, key: string) => ({
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
        body,
      });
      const running = shed.fetch('/');
      await entered.promise;
      const statuses = [
        (await shed.fetch('/', { headers: { 'x-request-id': 'shed' } })).status,
        (await limitStore.fetch('/', { headers: { 'x-request-id': 'limit-store' } })).status,
        (
          await keyStore.fetch('/', {
            ...post('{}', '"k"'),
            headers: { ...post('{}', '"k"').headers, 'x-request-id': 'key-store' },
          })
        ).status,
        (await decisions.fetch('/', post('{"a":1}', '"k"'))).status,
        (await decisions.fetch('/', post('{"a":2}', '"k"'))).status,
        (await decisions.fetch('/', post('{}', 'unquoted'))).status,
        (await decisions.fetch('/', post('{}', '"other"'))).status,
      ];
      release.resolve();
      expect((await running).status).toBe(200);
      expect(statuses).toEqual([503, 503, 503, 201, 422, 400, 429]);
      const listed = errors.list().map((e) => [e.correlationId, e.status, e.code]);
      expect(listed.sort()).toEqual([
        ['key-store', 503, 'store_unavailable'],
        ['limit-store', 503, 'store_unavailable'],
        ['shed', 503, 'bulkhead_full'],
      ]);
      // Three errors, none of them the 4xx decisions (rate_limit, validation, invalid_state).
      const counted = stats.snapshot().errorsByCategory;
      expect(Object.values(counted).reduce((a, b) => a + b, 0)).toBe(3);
      expect([counted.rate_limit, counted.validation, counted.invalid_state]).toEqual([0, 0, 0]);
    },
  },
  {
    area: 'signals',
    name: 'a client that disconnects mid-request aborts the request signal and is recorded once, as 499 (cancelled)',
    async run(t) {
      const errors = recentErrors({ max: 10 });
      const stats = metrics();
      const waiting = leftWhileWaiting(t);
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
        waiting.route,
      ]);
      const reason = (await waiting.leave(app.port)) as Error;
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
  {
    area: 'signals',
    name: "a client that disconnects while the framework's JSON parser reads its body is recorded once, as 499 (cancelled), not as the parser's 400",
    async run(t) {
      const errors = recentErrors({ max: 10 });
      const stats = metrics();
      const logger = t.logger();
      const recorded = deferred();
      const list = {
        record: (error: unknown, context: Parameters<typeof errors.record>[1]) => {
          const entry = errors.record(error, context);
          recorded.resolve();
          return entry;
        },
      };
      let ran = false;
      const app = await t.serve([
        t.m.errorHandler({ recentErrors: list, collector: stats, logger }),
        t.m.route(
          'POST',
          '/orders',
          () => {
            ran = true;
            return {};
          },
          { parser: 'json' },
        ),
      ]);
      // The parser reads (raw-body listens for the body's data), and half the body has come.
      const reading = deferred<IncomingMessage>();
      app.server.once('request', (req: IncomingMessage, res: ServerResponse) => {
        const poll = () => (req.listenerCount('data') > 0 ? reading.resolve(req) : setImmediate(poll));
        poll();
        res.once('close', () => setImmediate(() => setImmediate(() => setImmediate(recorded.resolve))));
      });
      const body = '{"sku":"a-1",';
      await abandonedRequest(
        app.port,
        {
          method: 'POST',
          path: '/orders',
          headers: { 'content-type': 'application/json', 'content-length': String(body.length * 2) },
          body,
        },
        reading.promise,
      );
      await recorded.promise;
      expect(ran).toBe(false);
      expect(errors.list()).toEqual([expect.objectContaining({ status: 499, category: 'cancelled' })]);
      const snapshot = stats.snapshot();
      expect(snapshot.errorsByCategory.cancelled).toBe(1);
      expect([snapshot.calls, snapshot.failed]).toEqual([0, 0]);
      expect(logger.lines).toEqual([]);
    },
  },
];
