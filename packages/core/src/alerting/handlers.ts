import { type Clock, systemClock } from '../clock/clock.js';
import { isPlainObject, OptionsValidator } from '../errors/validate.js';
import { pipeline } from '../pipeline/pipeline.js';
import { backoff } from '../retry/backoff.js';
import { RETRY_OPTION_NAMES } from '../retry/options.js';
import { retry } from '../retry/retry.js';
import { timeout } from '../timeout/timeout.js';
import {
  type Alert,
  type AlertHandler,
  WEBHOOK_DEFAULTS,
  WEBHOOK_OPTION_NAMES,
  type WebhookFetch,
  type WebhookOptions,
} from './options.js';

/** Any logger with pino's `(fields, message)` methods; `console` works too. */
export interface AlertLogger {
  error(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  info?(fields: object, message: string): void;
}

/** A one-line description of an alert, such as `alert high_error_rate firing: errorRate = 0.08 (threshold 0.05)`. */
export const describeAlert = (alert: Alert): string =>
  `alert ${alert.name} ${alert.status}: ${alert.metric} = ${alert.value} (threshold ${alert.threshold})`;

/**
 * Logs each alert as one structured record: critical alerts at `error`, warnings at `warn`,
 * info alerts and resolutions at `info` (or `warn` when the logger has no `info`).
 *
 * @example
 * alerting({ handlers: [logHandler(pino())] });
 */
export function logHandler(logger: AlertLogger): AlertHandler {
  const v = new OptionsValidator('logHandler');
  v.check(
    typeof logger?.warn === 'function' && typeof logger?.error === 'function',
    'logger',
    logger,
    'an object with warn() and error()',
  );
  v.done();
  return (alert) => {
    const fields = { alert };
    const message = describeAlert(alert);
    if (alert.status === 'firing' && alert.severity === 'critical') logger.error(fields, message);
    else if (alert.status === 'firing' && alert.severity === 'warning') logger.warn(fields, message);
    else if (logger.info) logger.info(fields, message);
    else logger.warn(fields, message);
  };
}

/** A webhook answered with a status outside 2xx; `status` lets `isTransient` retry 429 and 5xx. */
class WebhookResponseError extends Error {
  override readonly name = 'WebhookResponseError';
  readonly status: number;
  readonly response: { status: number; headers: unknown };
  constructor(status: number, headers: unknown) {
    super(`Webhook answered HTTP ${status}`);
    this.status = status;
    this.response = { status, headers };
  }
}

/** An http(s) URL fetch can send to: one it parses, with no credentials (fetch refuses those). */
function webhookUrl(url: string): boolean {
  try {
    const { protocol, username, password } = new URL(url);
    return /^https?:$/.test(protocol) && username === '' && password === '';
  } catch {
    return false;
  }
}

/**
 * POSTs each alert as JSON to `url`, each attempt aborted after `timeoutMs`, transient
 * failures retried. When every attempt fails it rejects (counted in `stats.handlerFailures`).
 * See docs/alerting.md.
 */
export function webhookHandler(options: WebhookOptions): AlertHandler {
  const v = new OptionsValidator('webhookHandler');
  const o = v.known(options, WEBHOOK_OPTION_NAMES);
  v.required('url', o.url)
    .string('url', o.url)
    .check(
      typeof o.url !== 'string' || webhookUrl(o.url),
      'url',
      typeof o.url === 'string' ? o.url.replace(/\/\/[^/?#]*@/, '//…@') : o.url, // never the password
      'an http(s) URL without credentials',
    );
  const fetchFn = (o.fetch ?? (globalThis as { fetch?: unknown }).fetch) as WebhookFetch | undefined;
  v.check(typeof fetchFn === 'function', 'fetch', o.fetch, 'a fetch function (globalThis.fetch is missing)');
  v.number('timeoutMs', o.timeoutMs, { gt: 0 });
  v.predicate('body', o.body); // an async one answers a promise: every alert posted as {}
  const headersOk =
    o.headers === undefined ||
    (isPlainObject(o.headers) && Object.values(o.headers).every((h) => typeof h === 'string' && !/[\r\n\0]/.test(h)));
  v.check(headersOk, 'headers', o.headers, 'an object of strings, each on one line');
  // The handler's own clock drives its retries: `retry.clock` is not an option here.
  const { clock: _, ...retryNames } = RETRY_OPTION_NAMES;
  v.known(o.retry, retryNames, 'retry');
  v.clock('clock', o.clock);
  v.done();
  const clock: Clock = options.clock ?? systemClock;
  const timeoutMs = options.timeoutMs ?? WEBHOOK_DEFAULTS.timeoutMs;
  const headers = { 'content-type': 'application/json', ...options.headers };
  const toBody = options.body ?? ((alert: Alert) => alert);
  const retryPolicy = retry({
    name: 'webhook',
    maxAttempts: WEBHOOK_DEFAULTS.maxAttempts,
    backoff: backoff.exponential({
      initialMs: WEBHOOK_DEFAULTS.initialDelayMs,
      maxMs: WEBHOOK_DEFAULTS.maxDelayMs,
      jitter: 'full',
    }),
    ...options.retry,
    clock,
  });
  // Our own policies: each attempt under an aggressive timeout (its signal aborts the fetch),
  // attempts retried outside it.
  const policy = pipeline(retryPolicy, timeout(timeoutMs, { strategy: 'aggressive', clock, name: 'webhook-timeout' }));
  const post = async (body: string, signal: AbortSignal): Promise<void> => {
    const response = await fetchFn!(options.url, { method: 'POST', headers, body, signal });
    try {
      await response.body?.cancel?.(); // free the connection; the answer's body is not used
    } catch {
      // A body that cannot be cancelled does not make the delivery fail.
    }
    if (!response.ok) throw new WebhookResponseError(response.status, response.headers);
  };
  return async (alert) => {
    const body = JSON.stringify(toBody(alert));
    await policy.execute(({ signal }) => post(body, signal));
  };
}
