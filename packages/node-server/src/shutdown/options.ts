import type { Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { constants } from 'node:os';
import type { Clock, EventLogger, HealthRegistry, OptionNames } from '@resilience/core';
import { OptionsValidator } from '@resilience/core/internal';
import { refuseTheirs } from '../their-options.js';

/** A server `gracefulShutdown` can drain: `node:http`'s or `node:https`'s. */
export type ShutdownServer = Server | HttpsServer;

export interface GracefulShutdownOptions {
  /**
   * The process signals that start the shutdown; `[]` for none (call `shutdown()` yourself).
   * Not `SIGKILL` or `SIGSTOP`: no process can catch them. @default ['SIGTERM', 'SIGINT']
   */
  signals?: readonly NodeJS.Signals[];
  /**
   * The health registry behind the readiness route: on the signal a failing critical readiness
   * check named `shutdown` (a free name) is registered, once however many servers share it, so
   * readiness answers 503 at once while liveness stays as it was.
   */
  health?: HealthRegistry;
  /**
   * How long the server keeps accepting connections after the signal, readiness failing, so
   * the load balancer sees the failing probe and stops sending before connections are
   * refused (Kubernetes removes a pod's endpoints while it is already terminating). @default 0
   */
  drainDelayMs?: number;
  /**
   * The most the whole shutdown may take, from the signal to the exit; past it the process
   * exits with code 1 and the logger names what was still open. Keep it below the platform's
   * grace period (Kubernetes: `terminationGracePeriodSeconds`, 30 s by default). @default 10_000
   */
  timeoutMs?: number;
  /**
   * How long the handler of a request whose client left is still waited for (it may write to
   * a pool `onShutdown` closes): until it ends the response, or this long (Koa ends none whose
   * client left). At most 1 000 are held. `0` waits for none. @default 5_000
   */
  abandonedHoldMs?: number;
  /** Runs first, right after readiness turns to fail (close WebSockets and other long-lived connections here). */
  beforeShutdown?: () => unknown;
  /** Runs once the server has closed (close pools, flush metrics); if it throws, the exit code is 1. */
  onShutdown?: () => unknown;
  /** @default a logger writing to `console` */
  logger?: EventLogger;
  /** @default process.exit */
  exit?: (code: number) => void;
  /** @default systemClock */
  clock?: Clock;
}

// Besides the options' defaults: `maxAbandoned`, the most requests whose client left held at
// once (see `abandonedHoldMs`); `checkName`, the readiness check registered on the signal.
export const SHUTDOWN_DEFAULTS = {
  signals: ['SIGTERM', 'SIGINT'],
  drainDelayMs: 0,
  timeoutMs: 10_000,
  abandonedHoldMs: 5_000,
  maxAbandoned: 1_000,
  checkName: 'shutdown',
} as const;

const OPTION_NAMES = {
  signals: true,
  health: true,
  drainDelayMs: true,
  timeoutMs: true,
  abandonedHoldMs: true,
  beforeShutdown: true,
  onShutdown: true,
  logger: true,
  exit: true,
  clock: true,
} as const satisfies OptionNames<GracefulShutdownOptions>;

const isSignal = (name: unknown) => typeof name === 'string' && Object.hasOwn(constants.signals, name);
/**
 * Signals no process can catch: Node throws `uv_signal_start EINVAL` from `process.on` for
 * them, after the listeners installed before it (on Linux, no other name in
 * `os.constants.signals` throws).
 */
const UNCATCHABLE: readonly unknown[] = ['SIGKILL', 'SIGSTOP'];

const STATUSES = 'none: 200 for pass or warn, 503 for fail, as application/health+json';
/** terminus' options, and what takes their place. */
const TERMINUS: Record<string, string> = {
  timeout: "timeoutMs, counted from the signal: drainDelayMs + terminus' timeout",
  signal: 'signals, the whole list (terminus adds signal to it)',
  healthChecks: 'health, a health() registry for readiness; serve it with healthRoutes(registry)',
  onSigterm: "onShutdown (terminus' onSigterm is its onSignal)",
  sendFailuresDuringShutdown: 'health: from the signal /health/ready answers 503, the other routes as before',
  onSendFailureDuringShutdown: 'none: health fails readiness from the signal',
  useExit0: 'none: the exit code is 0, or 1 when onShutdown fails or timeoutMs passes',
  statusOk: STATUSES,
  statusOkResponse: STATUSES,
  statusError: STATUSES,
  statusErrorResponse: STATUSES,
  caseInsensitive: "none: healthRoutes' paths are case-sensitive",
  headers: 'none: a CORS middleware mounted before healthRoutes adds them',
};

export function validateShutdownOptions(server: unknown, options: GracefulShutdownOptions): void {
  const v = new OptionsValidator('gracefulShutdown');
  const s = server as Partial<Server> | undefined;
  v.check(
    // An http2 server lacks closeAllConnections (one that allows HTTP/1 has closeIdleConnections).
    typeof s?.close === 'function' && typeof s.closeAllConnections === 'function' && typeof s.on === 'function',
    'server',
    server,
    typeof s?.listen === 'function' && typeof s.close !== 'function'
      ? 'the Server app.listen() returns, not the app (const server = app.listen(port))'
      : 'a node:http or node:https Server',
  );
  // terminus' names: the look-alikes known() would suggest (timeoutMs, health) do not take them as they are.
  refuseTheirs(v, options, TERMINUS);
  const o = v.known(options, OPTION_NAMES);
  const signalNames = o.signals === undefined || (Array.isArray(o.signals) && o.signals.every(isSignal));
  v.check(signalNames, 'signals', o.signals, "a list of signal names such as 'SIGTERM'");
  v.check(
    !signalNames || !o.signals?.some((name) => UNCATCHABLE.includes(name)),
    'signals',
    o.signals,
    'signals a process can listen for (SIGKILL and SIGSTOP cannot be caught)',
  );
  const health = o.health;
  v.check(
    health === undefined || (typeof health?.register === 'function' && Array.isArray(health.names)),
    'health',
    health,
    'a health() registry',
  );
  v.check(
    !health?.names?.includes?.(SHUTDOWN_DEFAULTS.checkName),
    'health',
    health?.names,
    `a registry without a check named '${SHUTDOWN_DEFAULTS.checkName}' (gracefulShutdown registers it)`,
  );
  v.number('drainDelayMs', o.drainDelayMs, { min: 0 });
  v.number('timeoutMs', o.timeoutMs, { gt: o.drainDelayMs ?? 0 });
  const { timeoutMs } = SHUTDOWN_DEFAULTS;
  v.check(
    o.timeoutMs !== undefined || !(Number.isFinite(o.drainDelayMs) && o.drainDelayMs! >= timeoutMs),
    'drainDelayMs',
    o.drainDelayMs,
    `a number below timeoutMs (${timeoutMs}, the default)`,
  );
  // A hold the deadline always cuts short (the exit 1, onShutdown never run) is refused.
  v.number('abandonedHoldMs', o.abandonedHoldMs, {
    min: 0,
    max: (+o.timeoutMs! || timeoutMs) - (+o.drainDelayMs! || 0),
  });
  v.function('beforeShutdown', o.beforeShutdown);
  v.function('onShutdown', o.onShutdown);
  if (typeof o.logger === 'function') {
    const theirs = "terminus' (message, error)? here pino-style (fields, message)";
    v.check(false, 'logger', o.logger, `a logger with info, warn and error methods (${theirs})`);
  } else v.logger('logger', o.logger);
  v.function('exit', o.exit);
  v.clock('clock', o.clock);
  v.done();
}
