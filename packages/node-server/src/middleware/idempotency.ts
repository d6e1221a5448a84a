import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type Clock,
  canonicalJson,
  type EventLogger,
  fingerprintInput,
  HTTP_DEFAULTS,
  IDEMPOTENCY_DEFAULTS,
  IDEMPOTENCY_HEADERS,
  type IdempotencyOptions as IdempotencyCoreOptions,
  type IdempotencyKeyOptions,
  idempotency,
  idempotencyKeyParser,
  idempotencyKeyProblem,
  isResilienceError,
  isStoreUnavailableError,
  type OptionNames,
  type ReplayRecord,
  replayRecord,
  replayResponse,
  type Store,
  shouldRecordResponse,
  type Unrecorded,
  unrecorded,
} from '@resilience/core';
import { emitHttpDecision, OptionsValidator } from '@resilience/core/internal';
import { headersOf } from '../accessors.js';
import { bodyReader, type RequestBody } from '../body.js';
import { type CapturedResponse, responseCapture } from '../capture.js';
import { escapeControls, loggedPath } from '../logged-path.js';
import { consoleLogger, quietLogger } from '../logger.js';
import { charsetOf, isJsonType, mediaType } from '../parse-body.js';
import {
  claimResponse,
  isIdempotencyRefusal,
  lateResponse,
  markIdempotencyRefusal,
  requestCorrelationId,
  requestSignal,
  responseError,
} from '../request-state.js';
import type { Answer } from '../respond-once.js';
import { refuseTheirs } from '../their-options.js';
import { errorAnswer, problemAnswer } from './answer.js';
import { MIDDLEWARE_DEFAULTS } from './defaults.js';
import { refusalOf } from './error-handler.js';
import { refuseUncalled } from './uncalled.js';

const DEFAULTS = MIDDLEWARE_DEFAULTS.idempotency;

/** Options of the adapters' `idempotency` middleware; `C` is the framework's request (`req`, `ctx`). */
export interface IdempotencyOptions<C> {
  /** Where records live: share one (`@resilience/redis`) between instances. @default memoryStore({ maxKeys: 10_000 }) */
  store?: Store;
  /** The request header holding the key. @default 'Idempotency-Key' */
  header?: string;
  /** Methods the middleware applies to; others pass untouched. @default ['POST', 'PATCH'] */
  methods?: readonly string[];
  /** Answer 400 to a request of those methods without a key. @default false */
  required?: boolean;
  /** Whose key it is (user, tenant): one scope's key never replays another's response. @default none (one scope for all) */
  scope?: (c: C) => string | undefined | PromiseLike<string | undefined>;
  /** How long a response is replayed. @default 86_400_000 (24 h) */
  ttlMs?: number;
  /**
   * How long a request in flight holds its key: a crashed request frees it after this, and a
   * handler whose client left, or whose request a `timeout` answered, has this long to answer
   * (its answer is recorded; a retry gets 409 meanwhile). @default 60_000
   */
  lockTimeoutMs?: number;
  /** The most body bytes read (413 beyond) and the most response bytes recorded. @default 1_048_576 (1 MiB) */
  maxBodyBytes?: number;
  /** @deprecated No body is refused for it (the parser after the middleware answers); `false` fingerprints a top-level JSON primitive by value. @default true */
  jsonStrict?: boolean;
  /** Fewest characters a key may have: raise it to refuse low-entropy keys. @default 1 */
  minKeyLength?: number;
  /** Record and replay 5xx answers too, not the toolkit's refusals (by default the key is freed so the client can retry). @default false */
  recordServerErrors?: boolean;
  /** @default systemClock */
  clock?: Clock;
  /** Where responses that could not be recorded are logged. @default console */
  logger?: EventLogger;
}

const OPTION_NAMES = {
  store: true,
  header: true,
  methods: true,
  required: true,
  scope: true,
  ttlMs: true,
  lockTimeoutMs: true,
  maxBodyBytes: true,
  jsonStrict: true,
  minKeyLength: true,
  recordServerErrors: true,
  clock: true,
  logger: true,
} as const satisfies OptionNames<IdempotencyOptions<unknown>>;

/** What the framework tells the idempotency middleware about a request's body and path. */
export interface IdempotencyPort<C> {
  /** The body a parser already left (Express `req.body`, Koa `ctx.request.body`). */
  body(c: C): unknown;
  /** Leaves a body read (and parsed) here where the framework's parsers look, for a handler without one. */
  setBody(c: C, body: RequestBody): void;
  /** The path with its query, as the client sent it. */
  path(c: C): string;
  /** The Node request (Express: `req` itself, no load from the response). */
  request(c: C): IncomingMessage;
  /**
   * The client left while the handler runs: a framework that writes nothing to a closed
   * connection (Koa) is made to write the handler's answer anyway, so it is recorded.
   */
  clientLeft?(c: C): void;
  /**
   * The toolkit answered for the handler (a timeout's 503) while it runs: a framework that
   * ignores the handler once a response has gone out (Koa drops `ctx.status` and `ctx.set`)
   * lets what it sets reach the sealed response, where its answer is recorded.
   */
  answeredFor?(c: C): void;
  /**
   * After {@link answeredFor}, the handler settled without ending the response: a framework
   * that writes the handler's answer after it (Koa's `ctx.body`) writes it now — or nothing,
   * when it cannot be written faithfully, and the key is freed.
   */
  settledLate?(c: C): void;
}

/** The handler must run now: the capture is installed; call `next`. */
export const RUN = Symbol('run');

/**
 * One request through the idempotency middleware: `undefined` (not ours: go on), {@link RUN}
 * (the first request with its key: go on, its response is being recorded), or the answer
 * to send (a replay, 400, 409, 413, 422, 503). A request it has nothing to do with (another
 * method, no key when none is required) is decided at once, without a promise.
 */
export type IdempotencyStep<C> = (
  c: C,
  res: ServerResponse,
) => Answer | undefined | Promise<Answer | typeof RUN | undefined>;

const ignore = () => {};
const HEAD_RECORD = { headers: ['content-length'] };

/**
 * Shared by every idempotency middleware: the first to take a request (it has that one's key,
 * or that one refuses it) decides it; one the request reaches later (the same mounted on the
 * app and on a route, another sharing its store) passes it through, where its own claim of the
 * key would meet the first one's and answer 409. Registered, so the copies of every build (an
 * ESM app whose CommonJS module mounts one too) are one owner.
 */
const DECIDES = Symbol.for('@resilience/node-server:idempotency-decides.v1');

/** The middleware's own answer, not the handler's: never recorded, by it or another on the request. */
function refusal(res: ServerResponse, answer: Answer): Answer {
  markIdempotencyRefusal(res);
  return answer;
}

const sha256 = (data: string | Uint8Array, more: string | Uint8Array = ''): string =>
  createHash('sha256').update(data).update(more).digest('base64');

/** The longest scope core keeps as it is; see {@link storedScope}. */
const MAX_SCOPE = 1_024;
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * The scope as the store keeps it: as it is, or, when core would refuse it (over 1 024
 * characters: a token or an API key as scope; a lone surrogate), '#' and the SHA-256 of its
 * UTF-16 code units, so two ill-formed scopes stay apart (to take that form, a scope must know
 * the other one). Refused, every keyed request of such a caller would be a 500.
 */
const storedScope = (scope: string): string =>
  scope.length <= MAX_SCOPE && !LONE_SURROGATE.test(scope) ? scope : `#${sha256(Buffer.from(scope, 'utf16le'))}`;

// express-idempotency's names that core does not point anywhere.
const THEIRS: Record<string, string> = {
  intentValidator: 'none: a fingerprint of the method, path, query and body; another request under the key is a 422',
};

/** The idempotency middleware shared by the Express and Koa adapters; see their `idempotency`. */
export function idempotencyStep<C>(options: IdempotencyOptions<C>, port: IdempotencyPort<C>): IdempotencyStep<C> {
  refuseUncalled('idempotency', options);
  const v = new OptionsValidator('idempotency');
  refuseTheirs(v, options, THEIRS);
  const o = v.known(options, OPTION_NAMES);
  v.check(
    o.header === undefined || (typeof o.header === 'string' && /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(o.header)),
    'header',
    o.header,
    'a header name',
  );
  v.check(
    o.methods === undefined ||
      (Array.isArray(o.methods) && o.methods.length > 0 && o.methods.every((m) => typeof m === 'string')),
    'methods',
    o.methods,
    "a list of methods such as ['POST', 'PATCH']",
  );
  v.boolean('required', o.required);
  v.number('ttlMs', o.ttlMs, { gt: 0 });
  v.number('lockTimeoutMs', o.lockTimeoutMs, { gt: 0 });
  v.integer('maxBodyBytes', o.maxBodyBytes, { min: 0 });
  v.boolean('jsonStrict', o.jsonStrict);
  // The parser's own bound, checked here so the option is named as the user wrote it, with the rest.
  v.integer('minKeyLength', o.minKeyLength, { min: 1, max: HTTP_DEFAULTS.maxKeyLength });
  v.clock('clock', o.clock);
  v.function('scope', o.scope);
  v.boolean('recordServerErrors', o.recordServerErrors);
  v.logger('logger', o.logger);
  v.done();
  // The capture keeps at most maxBodyBytes of a body, so a record is bounded already (its
  // base64 and the replayed headers): core's own bound (maxRecordBytes) would refuse bodies
  // near maxBodyBytes.
  // Core reads an option set to `undefined` as one not given.
  const store = idempotency({
    store: o.store,
    ttlMs: o.ttlMs,
    lockTimeoutMs: o.lockTimeoutMs,
    clock: o.clock,
    maxRecordBytes: Number.POSITIVE_INFINITY,
  } as IdempotencyCoreOptions);
  const parseKey = idempotencyKeyParser({ minKeyLength: o.minKeyLength } as IdempotencyKeyOptions);
  const maxBodyBytes = o.maxBodyBytes ?? DEFAULTS.maxBodyBytes;
  const read = bodyReader({ maxBodyBytes, jsonStrict: o.jsonStrict ?? DEFAULTS.jsonStrict });
  const logger = quietLogger(o.logger ?? consoleLogger);
  // A client that left, or a request a timeout answered: its handler still runs, and a retry
  // waits (409) for what it sends, up to lingerMs.
  const { clientLeft, answeredFor, settledLate } = port;
  const capture = responseCapture({
    maxBodyBytes,
    lingerMs: o.lockTimeoutMs ?? IDEMPOTENCY_DEFAULTS.lockTimeoutMs,
    clock: o.clock,
    onLeft: clientLeft && ((_res: ServerResponse, c: unknown) => clientLeft(c as C)),
    onAnsweredFor: answeredFor && ((_res: ServerResponse, c: unknown) => answeredFor(c as C)),
    onSettled: settledLate && ((_res: ServerResponse, c: unknown) => settledLate(c as C)),
    onTooLarge(res) {
      if (!res.headersSent) res.setHeader(IDEMPOTENCY_HEADERS.notRecorded, 'body-too-large');
      logger.warn(
        { path: loggedPath(res), maxBodyBytes },
        `idempotency: the response is over ${maxBodyBytes} bytes and was not recorded; a repeat runs the handler again`,
      );
    },
  });
  const header = (o.header ?? DEFAULTS.header).toLowerCase();
  const methods = new Set((o.methods ?? DEFAULTS.methods).map((m) => m.toUpperCase()));
  const required = o.required ?? DEFAULTS.required;
  const recordServerErrors = o.recordServerErrors ?? DEFAULTS.recordServerErrors;
  const scopeOf = o.scope;

  /** What to record of a response: nothing (the key is freed) when it was not all kept, or is not one to replay. */
  const recordOf = (
    res: ServerResponse,
    captured: CapturedResponse | undefined,
    head: boolean,
  ): ReplayRecord | Unrecorded<undefined> => {
    if (captured === undefined) return unrecorded(undefined, 'unanswered');
    // Another idempotency middleware's 409, 422, 400 or 413: the client is to come back or fix its
    // request. So is the handler's own key in flight (core's idempotency, answered by errorHandler),
    // and a refusal of the toolkit's (a shed, an open breaker, a store down: a 503 that did
    // nothing), which `recordServerErrors` would otherwise replay to every retry for `ttlMs`.
    const error = responseError(res);
    if (isIdempotencyRefusal(res) || isResilienceError(error, 'in_flight') || refusalOf(error) !== undefined) {
      return unrecorded(undefined, 'refused');
    }
    if (!captured.complete) return unrecorded(undefined, 'body-too-large');
    if (!shouldRecordResponse(captured.status, { recordServerErrors }))
      return unrecorded(undefined, 'status-not-recorded');
    // A HEAD's body is none (what a handler wrote, Node never sent): its Content-Length, when
    // it had one, is the GET body's, which a replay repeats.
    return head ? replayRecord({ ...captured, body: undefined }, HEAD_RECORD) : replayRecord(captured);
  };

  /**
   * The payload's fingerprint: the method, the path and the body — JSON (any JSON value, `null`
   * too) as its canonical text, any other body as the SHA-256 of its bytes. A body a parser
   * before the middleware left as something else (a form's fields) is taken as canonical JSON
   * with its media type, apart from JSON bodies: `qty=1` is never `{"qty":"1"}`. A control
   * character in the path (one HTTP/2 let through) is percent-encoded first: core refuses it,
   * and the request would be a 500.
   */
  const fingerprint = (c: C, method: string, read: RequestBody | undefined): string => {
    const path = escapeControls(port.path(c));
    const contentType = headersOf(port.request(c))['content-type'];
    const type = mediaType(contentType);
    const json = isJsonType(type);
    const parsed = read === undefined ? port.body(c) : read.parsed;
    let input: string;
    if (parsed !== undefined && json && !(parsed instanceof Uint8Array)) {
      input = fingerprintInput({ method, path, body: parsed });
    } else {
      const bytes = read?.raw ?? (typeof parsed === 'string' || parsed instanceof Uint8Array ? parsed : undefined);
      let digest: string | undefined;
      // With its media type and charset: the same bytes as text and as a file, or in UTF-8 and
      // in Latin-1, are not one payload (the handler sees another value).
      if (bytes !== undefined) {
        digest = bytes.length === 0 ? undefined : sha256(`${type};${charsetOf(contentType)}\n`, bytes);
      }
      // No bytes but a value: what a parser before the middleware made (a ':' never occurs in base64).
      else if (parsed !== undefined) digest = `parsed:${sha256(`${type}\n${canonicalJson(parsed)}`)}`;
      input =
        digest === undefined
          ? fingerprintInput({ method, path })
          : fingerprintInput({ method, path, rawBodyDigest: digest });
    }
    return sha256(input);
  };

  const keyed = async (c: C, res: ServerResponse, method: string, key: string): Promise<Answer | typeof RUN> => {
    const req = res.req;
    let body: RequestBody | undefined;
    try {
      // Given up when a `timeout` answers the request (or its client leaves): a body that never
      // completes (a slowloris, `Expect: 100-continue` and no body) holds nothing. One all read
      // (a body parser ran first) waits on nothing: no signal made for it.
      body = await read(req, req.complete ? undefined : requestSignal(res));
    } catch (error) {
      // Answered for while the body came: no handler will run; loadShedding frees its slot now.
      lateResponse(res)?.failed();
      // A RequestBodyError answers with its status, message and `Connection: close` (a 413).
      return refusal(res, errorAnswer(res, error));
    }
    if (body !== undefined) port.setBody(c, body);
    let started!: () => void;
    const running = new Promise<typeof RUN>((resolve) => {
      started = () => resolve(RUN);
    });
    try {
      const scope = scopeOf === undefined ? undefined : await scopeOf(c);
      if (scope !== undefined && (typeof scope !== 'string' || scope === '')) {
        // A 500, not one shared scope: '' for every caller without a user would replay one's answer to another.
        throw new TypeError(
          `idempotency: scope returned ${scope === '' ? 'an empty string' : typeof scope}: return a non-empty string (whose key it is: a user or tenant id), or undefined for one scope for all`,
        );
      }
      const stored = scope === undefined ? undefined : storedScope(scope);
      const result = store.executeDetailed<ReplayRecord | undefined>(
        key,
        () => {
          const captured = capture(res, c);
          started();
          return captured.then((r) => recordOf(res, r, method === 'HEAD'));
        },
        stored === undefined
          ? { fingerprint: fingerprint(c, method, body), onInFlight: 'reject' }
          : { fingerprint: fingerprint(c, method, body), onInFlight: 'reject', scope: stored },
      );
      const first = await Promise.race([running, result]);
      if (first === RUN) {
        result.catch(ignore); // the response is the handler's: a failure to record it is core's record_failed
        return RUN;
      }
      emitHttpDecision({ decision: 'replayed' });
      // Only a replay settles before the handler runs, and what is recorded is a response.
      const replay = replayResponse(first.value as ReplayRecord);
      // No body to a HEAD: its Content-Length is only the recorded one, never the empty body's 0.
      if (method === 'HEAD') return { status: replay.status, headers: replay.headers };
      const replayBody = typeof replay.body === 'string' ? replay.body : Buffer.from(replay.body);
      return { status: replay.status, headers: replay.headers, body: replayBody };
    } catch (error) {
      const decision = decisionOf(error);
      if (decision !== undefined) emitHttpDecision({ decision });
      return refusal(res, errorAnswer(res, error));
    }
  };

  return function idempotencyStep(c, res) {
    const req = port.request(c);
    const method = req.method ?? 'GET';
    if (!methods.has(method)) return undefined;
    const parsedKey = parseKey(headersOf(req)[header]);
    if (!parsedKey.ok && parsedKey.reason === 'missing' && !required) return undefined;
    if (!claimResponse(res, DECIDES)) return undefined;
    if (parsedKey.ok) return keyed(c, res, method, parsedKey.key);
    return refusal(res, problemAnswer(idempotencyKeyProblem(parsedKey, { correlationId: requestCorrelationId(res) })));
  };
}

/** The decision an error of the record's store stands for: a key in flight or reused, or the store down. */
function decisionOf(error: unknown): 'idempotency_conflict' | 'store_unavailable' | undefined {
  if (isStoreUnavailableError(error)) return 'store_unavailable';
  if (isResilienceError(error, 'in_flight') || isResilienceError(error, 'fingerprint_mismatch')) {
    return 'idempotency_conflict';
  }
  return undefined;
}
