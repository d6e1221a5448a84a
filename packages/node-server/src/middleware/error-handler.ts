import type { ServerResponse } from 'node:http';
import {
  type EventLogger,
  errorResponse,
  httpErrorStatus,
  type MetricsCollector,
  type OptionNames,
  type RecentErrors,
} from '@resilience/core';
import { OptionsValidator } from '@resilience/core/internal';
import { checkLogger, consoleLogger } from '../logger.js';
import { type RequestRecorder, requestRecorder } from '../record.js';
import {
  claimErrorRecord,
  requestCorrelationId,
  responseError,
  setResponseError,
  whenResponseCloses,
} from '../request-state.js';
import type { Answer } from '../respond-once.js';
import { problemAnswer } from './answer.js';
import { MIDDLEWARE_DEFAULTS } from './defaults.js';

/** Options of the adapters' `errorHandler` middleware. */
export interface ErrorHandlerOptions {
  /** Send the error's message (`detail`) and stack. Never in production. @default false */
  expose?: boolean;
  /** A core `metrics()` collector the errors (and, in Koa, every request) are recorded into. */
  collector?: Pick<MetricsCollector, 'recordCall' | 'recordError'>;
  /**
   * A core `recentErrors()` list: server errors (5xx) and cancelled requests (499) are
   * recorded, once each, whether thrown or answered by the toolkit itself (a timeout, a shed,
   * a failed store), for `adminRoutes`.
   */
  recentErrors?: Pick<RecentErrors, 'record'>;
  /** Where server errors (5xx) are logged, with their correlation id. @default console */
  logger?: EventLogger;
}

const OPTION_NAMES = {
  expose: true,
  collector: true,
  recentErrors: true,
  logger: true,
} as const satisfies OptionNames<ErrorHandlerOptions>;

/** Where a request's error was met: its route (as the framework names it), and whether a request recorder counts it. */
export interface ErrorContext {
  readonly route?: string | undefined;
  /** True when `record` records this request (the collector then hears of it from there). */
  readonly recorded: boolean;
}

export interface ErrorHandling {
  /** Records every request into the collector (for a handler that sees every request: Koa's); undefined without one. */
  readonly record: RequestRecorder | undefined;
  /**
   * The answer to an error: records it (see {@link ErrorHandling.recordAnswered}); `undefined`
   * when the response has already started (it is then ended: nothing else can be said).
   */
  answer(res: ServerResponse, error: unknown, context: ErrorContext): Answer | undefined;
  /**
   * Records the error the toolkit answered the response with itself (a timeout's 503, a
   * shed, a failed store), as `answer` records what it catches: once per response, and only
   * server errors (5xx) and cancelled requests (499) — into the collector (unless `recorded`),
   * the recent-errors list and, for 5xx, the logger. A 4xx is the client's or a decision (a
   * 429, a refused idempotency key): not an error of the server. Nothing when there is none.
   */
  recordAnswered(res: ServerResponse, context: ErrorContext): void;
  /**
   * {@link ErrorHandling.recordAnswered} once the response has closed: for a body still being
   * sent when the handler returned (a stream), which a timeout may yet cut off.
   */
  recordAnsweredOnClose(res: ServerResponse, context: ErrorContext): void;
}

/** The error handling shared by the Express and Koa adapters; see their `errorHandler`. */
export function errorHandling(options: ErrorHandlerOptions = {}): ErrorHandling {
  const v = new OptionsValidator('errorHandler');
  const o = v.known(options, OPTION_NAMES);
  v.boolean('expose', o.expose);
  v.check(
    o.recentErrors === undefined || typeof o.recentErrors?.record === 'function',
    'recentErrors',
    o.recentErrors,
    'a recentErrors() list',
  );
  checkLogger(v, o.logger);
  v.done();
  const record = o.collector === undefined ? undefined : requestRecorder({ collector: o.collector });
  const collector = o.collector;
  const recent = o.recentErrors;
  const logger = o.logger ?? consoleLogger;
  const expose = o.expose ?? MIDDLEWARE_DEFAULTS.errorHandler.expose;

  const recordError = (res: ServerResponse, error: unknown, status: number, { route, recorded }: ErrorContext) => {
    if ((status < 500 && status !== 499) || !claimErrorRecord(res)) return;
    const correlationId = requestCorrelationId(res);
    if (!recorded) collector?.recordError(error);
    recent?.record(error, route === undefined ? { correlationId, status } : { correlationId, route, status });
    if (status >= 500) {
      const e = error as { name?: unknown; message?: unknown; stack?: unknown } | null;
      logger.error(
        { correlationId, route, status, error: { name: e?.name, message: e?.message, stack: e?.stack } },
        `${route ?? res.req?.method ?? 'request'} failed: ${String(e?.message ?? error)}`,
      );
    }
  };

  const recordAnswered = (res: ServerResponse, context: ErrorContext) => {
    const error = responseError(res);
    if (error !== undefined) recordError(res, error, httpErrorStatus(error).status, context);
  };

  return {
    record,
    answer(res, error, context) {
      const problem = errorResponse(error, { correlationId: requestCorrelationId(res), expose });
      setResponseError(res, error);
      recordError(res, error, problem.status, context);
      if (res.headersSent) {
        if (!res.writableEnded) res.destroy();
        return undefined;
      }
      return problemAnswer(problem);
    },
    recordAnswered,
    recordAnsweredOnClose(res, context) {
      whenResponseCloses(res, () => recordAnswered(res, context));
    },
  };
}
