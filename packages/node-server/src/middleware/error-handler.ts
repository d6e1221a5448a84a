import type { ServerResponse } from 'node:http';
import {
  type EventLogger,
  errorResponse,
  type MetricsCollector,
  type OptionNames,
  type RecentErrors,
} from '@resilience/core';
import { OptionsValidator } from '@resilience/core/internal';
import { checkLogger, consoleLogger } from '../logger.js';
import { type RequestRecorder, requestRecorder } from '../record.js';
import { requestCorrelationId, setResponseError } from '../request-state.js';
import type { Answer } from '../respond-once.js';
import { problemAnswer } from './answer.js';
import { MIDDLEWARE_DEFAULTS } from './defaults.js';

/** Options of the adapters' `errorHandler` middleware. */
export interface ErrorHandlerOptions {
  /** Send the error's message (`detail`) and stack. Never in production. @default false */
  expose?: boolean;
  /** A core `metrics()` collector the errors (and, in Koa, every request) are recorded into. */
  collector?: Pick<MetricsCollector, 'recordCall' | 'recordError'>;
  /** A core `recentErrors()` list: server errors (5xx) and cancelled requests (499) are recorded, for `adminRoutes`. */
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

export interface ErrorHandling {
  /** Records every request into the collector (for a handler that sees every request: Koa's); undefined without one. */
  readonly record: RequestRecorder | undefined;
  /**
   * The answer to an error: records it (collector only when `recorded` is false: a request
   * recorder counts it otherwise), lists and logs it; `undefined` when the response has
   * already started (it is then ended: nothing else can be said).
   */
  answer(
    res: ServerResponse,
    error: unknown,
    context: { route?: string | undefined; recorded: boolean },
  ): Answer | undefined;
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

  return {
    record,
    answer(res, error, { route, recorded }) {
      const correlationId = requestCorrelationId(res);
      const problem = errorResponse(error, { correlationId, expose });
      const status = problem.status;
      setResponseError(res, error);
      if (!recorded) collector?.recordError(error);
      if (status >= 500 || status === 499) {
        recent?.record(error, route === undefined ? { correlationId, status } : { correlationId, route, status });
      }
      if (status >= 500) {
        const e = error as { name?: unknown; message?: unknown; stack?: unknown } | null;
        logger.error(
          { correlationId, route, status, error: { name: e?.name, message: e?.message, stack: e?.stack } },
          `${route ?? res.req?.method ?? 'request'} failed: ${String(e?.message ?? error)}`,
        );
      }
      if (res.headersSent) {
        if (!res.writableEnded) res.destroy();
        return undefined;
      }
      return problemAnswer(problem);
    },
  };
}
