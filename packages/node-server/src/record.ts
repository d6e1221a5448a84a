import type { ServerResponse } from 'node:http';
import {
  type Clock,
  httpErrorStatus,
  type MetricsCollector,
  type OptionNames,
  type Subscribe,
  systemClock,
} from '@resilience/core';
import { Emitter, OptionsValidator } from '@resilience/core/internal';
import { isFinished } from './accessors.js';
import { ClientDisconnectedError } from './errors.js';
import { claimResponse, responseError, whenResponseCloses } from './request-state.js';

/** `ok`: answered below 500; `failed`: answered 5xx, or cut off by the server (a timeout); `cancelled`: the client left before the response finished. */
export type RequestOutcome = 'ok' | 'failed' | 'cancelled';

/** One request, as a recorder reports it once its response has closed. */
export interface RequestRecord {
  readonly method: string;
  /**
   * The status sent; for a response that did not finish, the status of the error the server
   * ended it with (a timeout cutting a stream off: 503), else 499 (the client disconnected).
   */
  readonly status: number;
  /** From the recorder's call to the response's close, on the recorder's clock. */
  readonly latencyMs: number;
  readonly outcome: RequestOutcome;
  /**
   * For `failed`: the error given to `setResponseError`, if any; for `cancelled`: the
   * {@link ClientDisconnectedError}.
   */
  readonly error?: unknown;
}

export interface RequestRecorderOptions {
  /**
   * A core `metrics()` collector. A finished request is one `recordCall` (`ok` below 500); a
   * cancelled one is only `recordError` with a `ClientDisconnectedError` (category
   * `cancelled`): it counts neither as a call nor as a failure, and its latency stays out of
   * the percentiles.
   */
  collector?: Pick<MetricsCollector, 'recordCall' | 'recordError'>;
  /** @default systemClock */
  clock?: Clock;
}

/** Starts recording one request; see {@link requestRecorder}. */
export interface RequestRecorder {
  (res: ServerResponse): void;
  /** Every request recorded from now on, once its response has closed. Costs nothing while nobody listens. */
  readonly onRequest: Subscribe<RequestRecord>;
}

/** Read only for a listener: an Express response's properties are slow to load. */
const methodOf = (res: ServerResponse): string => res.req?.method ?? 'GET';

const OPTION_NAMES = { collector: true, clock: true } as const satisfies OptionNames<RequestRecorderOptions>;

/**
 * Records each request's latency and outcome exactly once, when its response closes: a call
 * with the same response again does nothing, so several middlewares may call one recorder.
 * Costs one `close` listener per request (shared with the request signal).
 *
 * @example
 * const record = requestRecorder({ collector: stats });
 * record.onRequest((r) => histogram.observe({ outcome: r.outcome }, r.latencyMs / 1_000));
 * // in the middleware: record(res);
 */
export function requestRecorder(options: RequestRecorderOptions = {}): RequestRecorder {
  const v = new OptionsValidator('requestRecorder');
  const o = v.known(options, OPTION_NAMES);
  const collector = o.collector;
  v.check(
    collector === undefined ||
      (typeof collector?.recordCall === 'function' && typeof collector.recordError === 'function'),
    'collector',
    collector,
    'a metrics() collector (recordCall, recordError)',
  );
  v.clock('clock', o.clock);
  v.done();
  const clock = o.clock ?? systemClock;
  const records = new Emitter<RequestRecord>();

  const record = (res: ServerResponse): void => {
    if (!claimResponse(res, record)) return;
    const startedAt = clock.now();
    whenResponseCloses(res, () => {
      const latencyMs = clock.now() - startedAt;
      // Not finished: the client left, unless the server ended it for an error of its own (a
      // timeout cutting a stream off), which is a failure with that error's status.
      const finished = isFinished(res);
      const own = finished ? undefined : responseError(res);
      const ownStatus = own === undefined ? 499 : httpErrorStatus(own).status;
      if (!finished && ownStatus === 499) {
        const error = new ClientDisconnectedError();
        collector?.recordError(error);
        if (records.hasListeners)
          records.emit({ method: methodOf(res), status: error.status, latencyMs, outcome: 'cancelled', error });
        return;
      }
      const status = finished ? res.statusCode : ownStatus;
      if (status < 500) {
        collector?.recordCall({ latencyMs, ok: true });
        if (records.hasListeners) records.emit({ method: methodOf(res), status, latencyMs, outcome: 'ok' });
        return;
      }
      const error = responseError(res);
      collector?.recordCall(error === undefined ? { latencyMs, ok: false } : { latencyMs, ok: false, error });
      if (records.hasListeners) {
        const method = methodOf(res);
        records.emit(
          error === undefined
            ? { method, status, latencyMs, outcome: 'failed' }
            : { method, status, latencyMs, outcome: 'failed', error },
        );
      }
    });
  };
  return Object.assign(record, { onRequest: records.subscribe });
}
