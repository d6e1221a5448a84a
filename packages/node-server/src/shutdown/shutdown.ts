import type { ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { type TLSSocket, Server as TlsServer } from 'node:tls';
import { systemClock, type TimerHandle } from '@resilience/core';
import { messageOf } from '@resilience/core/internal';
import { isEnded, onClose } from '../accessors.js';
import { loggedPath, loggedText } from '../logged-path.js';
import { consoleLogger, quietLogger } from '../logger.js';
import { outlive } from '../outlive.js';
import { lateResponse } from '../request-state.js';
import {
  type GracefulShutdownOptions,
  SHUTDOWN_DEFAULTS,
  type ShutdownServer,
  validateShutdownOptions,
} from './options.js';
import { allDrained, drained, drainingStarted, turnOffOnce } from './process-wide.js';
import { trackUpgraded } from './upgraded.js';

/** `serving`, `draining` (readiness fails, still accepting), `closing` (the requests in flight finish), `finishing` (`onShutdown`, other servers' drains), `exited`. */
export type ShutdownPhase = 'serving' | 'draining' | 'closing' | 'finishing' | 'exited';

/** What {@link gracefulShutdown} returns. */
export interface GracefulShutdown {
  readonly phase: ShutdownPhase;
  /**
   * Starts the shutdown as a signal does (a later call joins the first) and resolves with the
   * exit code once `exit` has been called with it.
   */
  shutdown(reason?: string): Promise<number>;
  /**
   * Stops listening for the signals and for requests, and no longer holds back the exit of
   * the process's other shutdowns; the server is left as it is.
   */
  dispose(): void;
}

/**
 * Makes Node close the connection once the response has gone out, if at its head it is still
 * the latest request its connection has brought (`latest`, by socket): one pipelined behind
 * it is answered first, on the same connection, and the close goes on that one's. Node writes
 * `Connection: close` itself: a header set here would not survive a framework that removes
 * every header on its error path (Koa's), and the keep-alive client would stay through the
 * drain. A `Connection` of the app's (`keep-alive`, as a proxy copies its upstream's) would
 * make Node keep the connection: it says `close` then.
 */
function closeAfter(res: ServerResponse, latest: WeakMap<object, ServerResponse>): void {
  const socket: object = res.req?.socket ?? res; // a response of no request (a test double): its own
  latest.set(socket, res);
  if (res.headersSent) return;
  // Every head goes through writeHead (`end` and `write` through `_implicitHeader`), with the
  // fields given to it (a proxy's `writeHead(status, upstream.headers)`), stored past setHeader.
  const head = res.writeHead as (...args: unknown[]) => ServerResponse;
  res.writeHead = ((...args: unknown[]) => {
    if (latest.get(socket) !== res) return head.apply(res, args);
    res.shouldKeepAlive = false;
    if (res.hasHeader('connection')) res.setHeader('connection', 'close');
    return head.apply(res, args.map(saysClose));
  }) as ServerResponse['writeHead'];
}

const CONNECTION = /^connection$/i;

/** `writeHead`'s fields (an object, a flat list, a list of pairs) with a `Connection` saying `close`; other arguments as they are. */
const saysClose = (fields: unknown): unknown =>
  Array.isArray(fields)
    ? fields.map((v, i) => (Array.isArray(v) ? saysClose(v) : i % 2 && CONNECTION.test(fields[i - 1]) ? 'close' : v))
    : typeof fields === 'object' && fields !== null
      ? Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, CONNECTION.test(k) ? 'close' : v]))
      : fields;

/** The server's events for requests that never reach its `request` listeners. */
const UNSEEN = ['checkContinue', 'checkExpectation'] as const;

/** The readiness check registered on the signal. */
const failing = () => ({ status: 'fail' as const, output: 'shutting down' });
const READINESS = { kind: 'readiness', critical: true } as const;

/** `GET /orders`: the path without its query, which may carry secrets. */
function describe(res: ServerResponse): string {
  return `${res.req?.method ?? '?'} ${loggedPath(res) ?? ''}`;
}

/**
 * Drains a server on SIGTERM / SIGINT, as terminus does: readiness fails, the server accepts
 * for `drainDelayMs`, then closes while the requests in flight finish; `onShutdown` runs and
 * the process exits 0 (1 past `timeoutMs`). Call it as soon as the server is made.
 *
 * @example gracefulShutdown(server, { health: probes, drainDelayMs: 5_000, onShutdown: () => pool.end() });
 */
export function gracefulShutdown(server: ShutdownServer, options: GracefulShutdownOptions = {}): GracefulShutdown {
  validateShutdownOptions(server, options);
  const clock = options.clock ?? systemClock;
  // A log sink that throws (gone before the process) costs its line, never the drain.
  const logger = quietLogger(options.logger ?? consoleLogger);
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const signals = options.signals ?? SHUTDOWN_DEFAULTS.signals;
  const drainDelayMs = options.drainDelayMs ?? SHUTDOWN_DEFAULTS.drainDelayMs;
  const timeoutMs = options.timeoutMs ?? SHUTDOWN_DEFAULTS.timeoutMs;
  const abandonedHoldMs = options.abandonedHoldMs ?? SHUTDOWN_DEFAULTS.abandonedHoldMs;

  let phase: ShutdownPhase = 'serving';
  let running: Promise<number> | undefined;
  let settle: (code: number) => void = () => {};
  let timer: TimerHandle | undefined;
  let startedAt = 0;
  /** What the shutdown is waiting on besides requests and connections, for the timeout's log. */
  let waitingOn: string | undefined;
  const inFlight = new Set<ServerResponse>();
  // From the signal on: the latest request of each connection (see closeAfter).
  const latest = new WeakMap<object, ServerResponse>();
  // Handlers still running once their response closed (a timeout answered for them, or their
  // client left): onShutdown waits.
  const late = new Set<ServerResponse>();
  let abandoned = 0;
  let lateDone = () => {};
  let inFlightDone = () => {};
  /** This shutdown among the process's others. */
  const self = {};
  // Connections open before this call may carry requests it never saw: while there are any
  // (a call after the server began serving), none is cut off.
  let unseen: number | undefined;
  server.getConnections((_error, count) => (unseen = count));
  // An https server's connections still in their TLS handshake (TCP or a Unix socket): Node's
  // HTTP side knows a connection only once it is secure, so `closeAllConnections` misses them,
  // and one that never finishes (a load balancer's TCP check, a stalled client) would hold the
  // server until its `handshakeTimeout` (120 s). A secure one is known by the socket under it
  // (`_parent`, which Node sets on a TLSSocket it wraps around a `net.Socket`). A connection
  // handed over as another stream (`server.emit('connection', duplex)`: a tunnel) has none, so
  // it is not listed: once secure and upgraded (a WebSocket), it would be cut with the rest.
  const handshaking = server instanceof TlsServer ? new Set<Socket>() : undefined;
  const connected = (socket: Socket) => {
    if (!(socket instanceof Socket)) return;
    handshaking!.add(socket);
    socket.once('close', () => handshaking!.delete(socket));
  };
  const secured = (socket: TLSSocket) => {
    handshaking!.delete((socket as TLSSocket & { _parent?: Socket })._parent!);
  };

  /**
   * Closes what no request needs any more. Node's `close()` closes idle keep-alive
   * connections, but keeps a finished keep-alive one until its timeout, and one that has sent
   * no request yet (a browser's or a pool's preconnect), or part of one, until its
   * `headersTimeout` (60 s): once no request is in flight, every connection left goes —
   * unless the app takes requests it is not told of (`checkContinue`, `checkExpectation`),
   * or connections were open when `gracefulShutdown` was called.
   */
  function closeUnneeded(): void {
    if (inFlight.size === 0 && !unseen && !UNSEEN.some((event) => server.listenerCount(event) > 0)) {
      server.closeAllConnections();
      for (const socket of handshaking?.values() ?? []) socket.destroy();
    } else server.closeIdleConnections();
  }

  /**
   * A server that begins listening once closing (its `listen` came after the signal) closes
   * again, once the app's own `listening` callbacks have run (they may read `address()`).
   */
  const refuse = () => process.nextTick(() => server.close());

  // One function for every request, not a closure each.
  function released(this: ServerResponse): void {
    inFlight.delete(this);
    const handler = lateResponse(this);
    if (handler !== undefined) {
      late.add(this);
      handler.observe({ end: () => late.delete(this) && late.size === 0 && lateDone() });
    } else if (!isEnded(this) && !this.errored) holdAbandoned(this);
    if (inFlight.size === 0) inFlightDone();
    if (phase === 'closing') closeUnneeded();
  }

  /** A request whose client left before its answer: held until its handler ends the response, or `abandonedHoldMs`. */
  function holdAbandoned(res: ServerResponse): void {
    if (abandonedHoldMs === 0 || abandoned >= SHUTDOWN_DEFAULTS.maxAbandoned) return;
    abandoned++;
    late.add(res);
    outlive(
      res,
      () => {
        late.delete(res);
        abandoned--;
        if (late.size === 0) lateDone();
      },
      clock,
      abandonedHoldMs,
    );
  }
  const tracked = (_req: unknown, res: ServerResponse) => {
    inFlight.add(res);
    onClose(res, released);
    if (phase !== 'serving') closeAfter(res, latest);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (running) logger.warn({ signal }, `shutdown: ${signal} received again; already shutting down`);
    else void shutdown(signal);
  };

  function stopListening(): void {
    for (const signal of signals) process.off(signal, onSignal);
    server.off('request', tracked).off('connection', connected).off('secureConnection', secured);
    server.off('listening', refuse);
    upgraded.dispose();
  }

  // Sockets handed to the app's `upgrade` / `connect` listeners (WebSockets): ended once
  // closing. Tracked first: it undoes its own install should that fail.
  const upgraded = trackUpgraded(server);
  // All or nothing: a listener refused half-way (by another library's `newListener` hook, or
  // by Node for a signal it cannot listen to) must not leave the others installed, where a
  // signal would still start a shutdown whose caller got an error instead of a handle.
  try {
    // Ahead of the application, so a response it sends at once still gets `Connection: close`.
    server.prependListener('request', tracked);
    if (handshaking !== undefined) server.on('connection', connected).on('secureConnection', secured);
    for (const signal of signals) process.on(signal, onSignal);
  } catch (error) {
    try {
      stopListening();
    } catch {
      // The install's failure is the one to report (an app's `removeListener` hook may throw too).
    }
    throw error;
  }

  function finish(code: number): void {
    if (phase === 'exited') return;
    phase = 'exited';
    clock.clearTimeout(timer!);
    stopListening();
    drained(self, code);
    exit(code);
    settle(code);
  }

  /** Exits once every shutdown of the process has drained, with the worst code of them all. */
  async function finishWithTheOthers(code: number): Promise<void> {
    const all = allDrained();
    // Done with its own server: the wait is the others', each within its own timeoutMs (an idle
    // metrics port's shorter one must not exit the process under the app's requests).
    clock.clearTimeout(timer!);
    drained(self, code);
    const worst = Math.max(code, await all);
    if (phase === 'finishing') finish(worst);
  }

  function timedOut(): void {
    const requests = [...inFlight, ...late].map(describe);
    server.getConnections((_error, connections) => {
      logger.error(
        { phase, waitingOn, timeoutMs, requests, connections },
        `shutdown: timed out after ${timeoutMs} ms while ${phase}${waitingOn === undefined ? '' : `: ${waitingOn}`}; ` +
          `still open: ${requests.length} request(s) in flight` +
          `${requests.length > 0 ? ` (${requests.join(', ')})` : ''}, ${connections ?? 'unknown'} connection(s)`,
      );
      finish(1);
    });
  }

  async function run(reason: string): Promise<void> {
    startedAt = clock.now();
    phase = 'draining';
    timer = clock.setTimeout(timedOut, timeoutMs);
    drainingStarted(self);
    const health = options.health;
    try {
      if (health !== undefined)
        turnOffOnce(health, () => health.register(SHUTDOWN_DEFAULTS.checkName, failing, READINESS));
    } catch (error) {
      logger.error({ error }, `shutdown: could not turn readiness off: ${loggedText(messageOf(error))}`);
    }
    for (const res of inFlight) closeAfter(res, latest); // in the order they came
    logger.info(
      { reason, drainDelayMs, inFlight: inFlight.size },
      `shutdown: ${reason}; ${
        health === undefined
          ? 'no health registry given, so readiness stays as it was: the load balancer learns nothing before connections are refused'
          : 'readiness fails from now on'
      }`,
    );
    try {
      waitingOn = 'beforeShutdown has not returned';
      await options.beforeShutdown?.();
    } catch (error) {
      logger.error({ error }, `shutdown: beforeShutdown failed: ${loggedText(messageOf(error))}`);
    }
    waitingOn = undefined;
    if (drainDelayMs > 0) await clock.sleep(drainDelayMs);
    if (phase !== 'draining') return; // timed out meanwhile
    phase = 'closing';
    // Resolves once the last connection has closed.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.on('listening', refuse);
    // A connection whose answer it never sees (open before the call; the app's own
    // `checkContinue`) stays for `keepAliveTimeout` once answered, for good when that is 0:
    // from now on it closes once idle (recent Nodes add a second to that timer).
    server.keepAliveTimeout = 1;
    closeUnneeded();
    // WebSockets and tunnels never end by themselves: they go now, as new connections are
    // refused (what the app meant to say to them, it said in beforeShutdown).
    const sockets = upgraded.size;
    upgraded.end();
    logger.info(
      { inFlight: inFlight.size, upgraded: sockets },
      `shutdown: refusing new connections; ${inFlight.size} request(s) in flight` +
        `${sockets > 0 ? `; ending ${sockets} upgraded connection(s) (WebSockets)` : ''}`,
    );
    await closed;
    // The server closes before the responses of its last connection do: theirs may be held too.
    if (inFlight.size > 0) await new Promise<void>((resolve) => (inFlightDone = resolve));
    if (late.size > 0) await new Promise<void>((resolve) => (lateDone = resolve));
    if (phase !== 'closing') return;
    phase = 'finishing';
    try {
      waitingOn = 'onShutdown has not returned';
      await options.onShutdown?.();
    } catch (error) {
      logger.error({ error }, `shutdown: onShutdown failed: ${loggedText(messageOf(error))}`);
      return finishWithTheOthers(1);
    }
    if (phase !== 'finishing') return;
    logger.info({ durationMs: clock.now() - startedAt }, 'shutdown: complete');
    return finishWithTheOthers(0);
  }

  function shutdown(reason = 'shutdown requested'): Promise<number> {
    running ??= new Promise<number>((resolve) => {
      settle = resolve;
      void run(reason);
    });
    return running;
  }

  return {
    get phase() {
      return phase;
    },
    shutdown,
    dispose() {
      stopListening();
      drained(self, 0); // holds no other shutdown of the process back
    },
  };
}
