import { ServerResponse } from 'node:http';
import { correlationIds } from '@resilience/core';
import { processWide } from '@resilience/core/internal';
import { headersOf, isClosed, isFinished, onClose } from './accessors.js';
import { ClientDisconnectedError } from './errors.js';
import type { LateResponse } from './late-response.js';

/**
 * What the middlewares of one request share, kept with its response in ONE slot (see
 * `holderOf`) and created on first use: nothing is allocated for a request no middleware asks
 * about, and the `close` listener is added only for what needs to hear of the close.
 */
interface RequestState {
  controller: AbortController | undefined;
  aborted: boolean;
  reason: unknown;
  /** The error the response was made from: what the error handler caught, or what the toolkit answered. */
  error: unknown;
  /** Whether that error has been recorded (collector, recent errors, log): each response's once. */
  errorRecorded: boolean;
  /** Whether the response's `close` is listened to (see `stateOf`). */
  listening: boolean;
  closed: boolean;
  /** The request's correlation id, once a middleware has asked for it. */
  correlationId: string | undefined;
  /** The middlewares that have claimed the response (see `claimResponse`): one, or a list. */
  claims: object | symbol | Array<object | symbol> | undefined;
  /** Run once, in order, when the response closes (finished or not). */
  onClose: Array<() => void> | undefined;
  /** What the handler writes after the toolkit answered for it (see `respondOnce`). */
  late: LateResponse | undefined;
  /** Whether an idempotency middleware refused the request (see `markIdempotencyRefusal`). */
  refused: boolean;
}

// Found under registered symbols, never in this module: @resilience/express and @resilience/koa
// each bundle this file, in an ESM and a CommonJS build, and an app may load a package both
// ways (an ESM app whose CommonJS module requires it): a request signal made by one copy must
// be aborted by another copy's timeout, and a response claimed by one is claimed for all.
// Every copy is built from this source, so the state has one shape; change that shape (a field
// added, renamed or read differently) and the version in both names goes up, so that copies
// of two releases keep apart instead of misreading each other's state.
const STATE = Symbol.for('@resilience/node-server:request.v1');

type Slot = { [STATE]?: RequestState };

/**
 * Where a response's state is kept. On a plain response (node:http, Koa) it is a symbol
 * property of the response, the cheapest place there is. Express swaps the prototype of every
 * response, and adding a property to such an object copies its hidden class (~1.5 µs in a
 * real server); a WeakMap entry for each short-lived response costs about as much, in the map
 * and in the collector. There the state is a symbol key of `res.locals`, the object Express
 * makes for each request's own data (a dictionary, so a key costs a hash insert, ~0.2 µs): an
 * app that adds to `res.locals` keeps it, and so does one that replaces it with a spread or
 * `Object.assign` copy (both copy symbol keys). A response without `res.locals` keeps it in a
 * WeakMap. A response keeps its kind for its whole life (Express swaps the prototype and sets
 * `res.locals` before any middleware runs), so the state is always found where it was put.
 */
function holderOf(res: ServerResponse): Slot | undefined {
  if (Object.getPrototypeOf(res) === ServerResponse.prototype) return res as Slot;
  const locals = (res as { locals?: unknown }).locals;
  return typeof locals === 'object' && locals !== null ? (locals as Slot) : undefined;
}
let sharedStates: WeakMap<ServerResponse, RequestState> | undefined;
/** The process's map for responses without a holder, found (or made) on first use, not at import. */
const states = (): WeakMap<ServerResponse, RequestState> =>
  (sharedStates ??= processWide('@resilience/node-server:request-states.v1', () => new WeakMap()));

const existingState = (res: ServerResponse): RequestState | undefined => {
  const holder = holderOf(res);
  return holder === undefined ? states().get(res) : holder[STATE];
};

/** The response's state, made on first use; no listener. */
function slotOf(res: ServerResponse): RequestState {
  const holder = holderOf(res);
  let state = holder === undefined ? states().get(res) : holder[STATE];
  if (state === undefined) {
    state = {
      controller: undefined,
      aborted: false,
      reason: undefined,
      error: undefined,
      errorRecorded: false,
      listening: false,
      closed: false,
      correlationId: undefined,
      claims: undefined,
      onClose: undefined,
      late: undefined,
      refused: false,
    };
    if (holder === undefined) states().set(res, state);
    else holder[STATE] = state;
  }
  return state;
}

/** The response's state, listening for its `close`. */
function stateOf(res: ServerResponse): RequestState {
  const state = slotOf(res);
  if (!state.listening) {
    state.listening = true;
    // `close` on the request fires when its body has been read; only the response's `close`
    // without `finish` tells that the client went away. The listener holds the state itself:
    // what runs at the close never depends on where the state is found.
    if (isClosed(res)) responseClosed(res, state);
    else onClose(res, () => responseClosed(res, state));
  }
  return state;
}

function responseClosed(res: ServerResponse, state: RequestState): void {
  if (state.closed) return;
  state.closed = true;
  if (!isFinished(res)) abort(state, new ClientDisconnectedError());
  const runs = state.onClose;
  if (runs !== undefined) for (const run of runs) run();
}

function abort(state: RequestState, reason: unknown): void {
  if (state.aborted) return;
  state.aborted = true;
  state.reason = reason;
  state.controller?.abort(reason);
}

/**
 * The request's AbortSignal, made on the first call (later calls return the same signal).
 * It aborts with a {@link ClientDisconnectedError} when the client disconnects before the
 * response has finished, or with the reason given to {@link abortRequest}.
 */
export function requestSignal(res: ServerResponse): AbortSignal {
  const state = stateOf(res);
  if (state.controller === undefined) {
    state.controller = new AbortController();
    if (state.aborted) state.controller.abort(state.reason);
  }
  return state.controller.signal;
}

/**
 * Aborts the request's signal with `reason` (a timeout, say); the first reason wins. Costs no
 * AbortController while nobody has asked for the signal: it is made already aborted if asked later.
 */
export function abortRequest(res: ServerResponse, reason: unknown): void {
  abort(stateOf(res), reason);
}

/** Tells the recorders which error the response was made from (what the error handler caught). */
export function setResponseError(res: ServerResponse, error: unknown): void {
  slotOf(res).error = error;
}

/** The error given to {@link setResponseError}, if any. */
export function responseError(res: ServerResponse): unknown {
  return existingState(res)?.error;
}

/** True the first time it is asked for a response: whoever gets true records its error, nobody else. */
export function claimErrorRecord(res: ServerResponse): boolean {
  const state = slotOf(res);
  if (state.errorRecorded) return false;
  state.errorRecorded = true;
  return true;
}

/** Keeps the handler's {@link LateResponse} once the toolkit has answered for it. */
export function setLateResponse(res: ServerResponse, late: LateResponse): void {
  slotOf(res).late = late;
}

/** The handler's late answer, when the toolkit answered for it (a timeout); else `undefined`. */
export function lateResponse(res: ServerResponse): LateResponse | undefined {
  return existingState(res)?.late;
}

/**
 * Marks the response as an idempotency middleware's refusal (a bad or missing key, a key in
 * flight or reused, a body it could not read, its store down): a client told to fix its
 * request or to come back, never a result, so no idempotency record keeps it, whoever captured it.
 */
export function markIdempotencyRefusal(res: ServerResponse): void {
  slotOf(res).refused = true;
}

/** Whether {@link markIdempotencyRefusal} was called for the response. */
export function isIdempotencyRefusal(res: ServerResponse): boolean {
  return existingState(res)?.refused === true;
}

/** Runs `run` once when the response closes, finished or not; at once if it already has. */
export function whenResponseCloses(res: ServerResponse, run: () => void): void {
  const state = stateOf(res);
  if (state.closed) run();
  else if (state.onClose === undefined) state.onClose = [run];
  else state.onClose.push(run);
}

/** Whether any middleware of the toolkit has claimed `res` yet (see {@link claimResponse}). */
export const isClaimed = (res: ServerResponse): boolean => existingState(res)?.claims !== undefined;

/**
 * True the first time `owner` (a middleware's own function, say) claims `res`, false after:
 * a request that reaches one middleware twice (mounted on the app and on a router) is
 * handled once by it, and by each other middleware once too. Kept in the request's one
 * state slot: no WeakSet per middleware, no entry of its own.
 */
export function claimResponse(res: ServerResponse, owner: object | symbol): boolean {
  const state = slotOf(res);
  const owners = state.claims;
  if (owners === undefined) {
    state.claims = owner;
    return true;
  }
  if (owners === owner || (Array.isArray(owners) && owners.includes(owner))) return false;
  if (Array.isArray(owners)) owners.push(owner);
  else state.claims = [owners, owner];
  return true;
}

const correlationIdOf = correlationIds();

/**
 * The request's correlation id, the same for every middleware that asks: its `X-Request-Id`
 * when that is safe to echo, else the trace id of its `traceparent`, else a new UUID (see
 * core's `correlationIds`). Problem responses carry it in the body and in `X-Request-Id`.
 */
export function requestCorrelationId(res: ServerResponse): string {
  const state = slotOf(res);
  if (state.correlationId === undefined) {
    const headers = res.req === undefined ? undefined : headersOf(res.req);
    state.correlationId = correlationIdOf({ requestId: headers?.['x-request-id'], traceparent: headers?.traceparent });
  }
  return state.correlationId;
}
