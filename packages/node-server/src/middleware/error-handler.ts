import type { ServerResponse } from 'node:http';
import {
  type Clock,
  coarseSystemClock,
  type EventLogger,
  errorResponse,
  httpErrorStatus,
  isResilienceError,
  type MetricsCollector,
  type OptionNames,
  type RecentErrors,
} from '@resilience/core';
import { checkNested, messageOf, OptionsValidator, ReportGate } from '@resilience/core/internal';
import { requestBodyFailure } from '../body.js';
import { errorFields } from '../errors.js';
import { loggedPath, loggedText } from '../logged-path.js';
import { consoleLogger, quietLogger } from '../logger.js';
import { type RequestRecorder, requestRecorder } from '../record.js';
import {
  claimErrorRecord,
  isClaimed,
  lateResponse,
  requestCorrelationId,
  responseError,
  setResponseError,
  whenResponseCloses,
} from '../request-state.js';
import type { Answer } from '../respond-once.js';
import { problemAnswer } from './answer.js';
import { MIDDLEWARE_DEFAULTS } from './defaults.js';
import { refuseUncalled } from './uncalled.js';

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
  /**
   * Where server errors (5xx) are logged, with their correlation id, route and path (no query).
   * The toolkit's refusals (a shed, an open breaker, a store down) are warnings without a
   * stack, at most once a minute each. @default console
   */
  logger?: EventLogger;
  /** Times the refusals' once-a-minute log. @default coarseSystemClock */
  clock?: Clock;
}

const OPTION_NAMES = {
  expose: true,
  collector: true,
  recentErrors: true,
  logger: true,
  clock: true,
} as const satisfies OptionNames<ErrorHandlerOptions>;

/**
 * The toolkit's refusals by code (a 503 telling the client to come back: nothing was done for
 * it): logged at most once a minute each (see `logger`), never recorded by `idempotency`.
 */
const REFUSALS = ['bulkhead_full', 'circuit_open', 'circuit_isolated', 'store_unavailable'] as const;
const REFUSAL_REPORT_MS = 60_000;

/** The refusal code of an error, if it is one. */
export const refusalOf = (error: unknown) => REFUSALS.find((code) => isResilienceError(error, code));

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
   * For a handler that must come first (Koa's): warns once, the first time it meets a request
   * another middleware of the toolkit has already handled.
   */
  checkFirst(res: ServerResponse): void;
  /** Logs the adapter's `message` about where the handler is mounted, once (Express's: before a route). */
  misplaced(message: string): void;
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
  refuseUncalled('errorHandler', options);
  const v = new OptionsValidator('errorHandler');
  const o = v.known(options, OPTION_NAMES);
  v.boolean('expose', o.expose);
  v.check(
    o.recentErrors === undefined || typeof o.recentErrors?.record === 'function',
    'recentErrors',
    o.recentErrors,
    'a recentErrors() list',
  );
  v.logger('logger', o.logger);
  v.clock('clock', o.clock);
  // The recorder checks the collector: a bad one is named with the rest, as errorHandler's.
  const collector = o.collector;
  const record = collector === undefined ? undefined : checkNested(v, undefined, () => requestRecorder({ collector }));
  v.done();
  const clock = o.clock ?? coarseSystemClock;
  // One gate per refusal code: each is logged at most once a minute.
  const refusals = new Map(REFUSALS.map((code) => [code, new ReportGate(REFUSAL_REPORT_MS)]));
  const recent = o.recentErrors;
  const logger = quietLogger(o.logger ?? consoleLogger);
  const expose = o.expose ?? MIDDLEWARE_DEFAULTS.errorHandler.expose;

  const recordError = (res: ServerResponse, error: unknown, status: number, { route, recorded }: ErrorContext) => {
    if ((status < 500 && status !== 499) || !claimErrorRecord(res)) return;
    const correlationId = requestCorrelationId(res);
    if (!recorded) collector?.recordError(error);
    recent?.record(error, route === undefined ? { correlationId, status } : { correlationId, route, status });
    if (status < 500) return;
    // A request refused or failed before any route matched is still named by its path.
    const path = loggedPath(res);
    const what = loggedText(route ?? (`${res.req?.method ?? ''} ${path ?? ''}`.trim() || 'request'));
    const refusal = refusalOf(error);
    if (refusal === undefined) {
      logger.error(
        { correlationId, route, path, status, error: errorFields(error) },
        `${what} failed: ${loggedText(messageOf(error))}`,
      );
      return;
    }
    const unreported = refusals.get(refusal)!.pass(clock.now());
    if (unreported === undefined) return;
    logger.warn(
      { correlationId, route, path, status, code: refusal, unreported },
      `${what} refused (${refusal}): ${loggedText(messageOf(error))}; ${unreported} more since the last report (at most one a minute)`,
    );
  };

  const recordAnswered = (res: ServerResponse, context: ErrorContext) => {
    const error = responseError(res);
    if (error !== undefined) recordError(res, error, httpErrorStatus(error).status, context);
  };

  let misplaced = false;
  return {
    record,
    checkFirst(res) {
      if (misplaced || !isClaimed(res)) return;
      misplaced = true;
      logger.warn(
        {},
        'errorHandler runs after another resilience middleware, so what that middleware refuses is neither answered nor recorded by it; mount it first (app.use(errorHandler(...)) before the others)',
      );
    },
    misplaced(message) {
      if (!misplaced) logger.warn({}, message);
      misplaced = true;
    },
    answer(res, thrown, context) {
      // A body parser's zlib error about the request's own body is the client's, not an upstream's.
      const error = requestBodyFailure(res.req, thrown);
      const problem = errorResponse(error, { correlationId: requestCorrelationId(res), expose });
      setResponseError(res, error);
      recordError(res, error, problem.status, context);
      // Answered for the handler (a timeout), which then failed: it has no answer to record.
      lateResponse(res)?.failed();
      if (res.headersSent) {
        // A body under way is cut off: nothing else can be said. One answered for the handler
        // (a timeout's 503) is done: `failed()` above told whoever waits for its end.
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
