import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EventLogger } from '@resilience/core';
import type { ConformanceAdapter, TrustProxy } from './types.js';

/** A server of one scenario on 127.0.0.1. */
export interface Served {
  readonly server: http.Server;
  readonly url: string;
  readonly port: number;
  /** A real request with the global fetch (undici). */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

/** A logger that keeps what it is told. */
export interface RecordingLogger extends EventLogger {
  readonly lines: Array<{ level: 'info' | 'warn' | 'error'; message: string; fields: object }>;
}

/** What a scenario's steps receive. */
export interface ScenarioContext<M = unknown, C = never> {
  /** The adapter under test: its factories, `route`, `parser`, `header`. */
  readonly m: ConformanceAdapter<M, C>;
  /** Starts the app made of `stack`; closed after the scenario. */
  serve(stack: readonly M[], settings?: { trustProxy?: TrustProxy }): Promise<Served>;
  logger(): RecordingLogger;
}

/** A promise and the functions that settle it. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export function recordingLogger(): RecordingLogger {
  const lines: RecordingLogger['lines'] = [];
  const at = (level: 'info' | 'warn' | 'error') => (fields: object, message: string) => {
    lines.push({ level, message, fields });
  };
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

/** A scenario's context and the cleanup to run after it. */
export function scenarioContext<M, C>(adapter: ConformanceAdapter<M, C>) {
  const servers: http.Server[] = [];
  const context: ScenarioContext<M, C> = {
    m: adapter,
    async serve(stack, settings = {}) {
      const server = http.createServer(adapter.build(stack, { trustProxy: settings.trustProxy ?? 'none' }));
      servers.push(server);
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const { port } = server.address() as AddressInfo;
      const url = `http://127.0.0.1:${port}`;
      return { server, url, port, fetch: (path, init) => fetch(url + path, init) };
    },
    logger: recordingLogger,
  };
  const close = async () => {
    for (const server of servers) {
      server.closeAllConnections();
      if (server.listening) await new Promise((resolve) => server.close(resolve));
    }
  };
  return { context, close };
}

/**
 * A request whose client leaves while its handler waits: `route` (GET /wait) waits for the
 * request's signal; `leave(port)` sends the request, destroys it once the handler runs, and
 * resolves with the reason the signal aborted with.
 */
export function leftWhileWaiting<M, C>(t: ScenarioContext<M, C>) {
  const entered = deferred();
  const aborted = deferred<unknown>();
  const route = t.m.route('GET', '/wait', async (r) => {
    const signal = r.signal();
    entered.resolve();
    await new Promise((_, reject) =>
      signal.addEventListener('abort', () => {
        aborted.resolve(signal.reason);
        reject(signal.reason);
      }),
    );
    return {};
  });
  const leave = async (port: number): Promise<unknown> => {
    await abandonedRequest(port, { path: '/wait' }, entered.promise);
    return aborted.promise;
  };
  return { route, leave };
}

/** Sends a request with node:http and destroys it once `abortWhen` resolves: a client that goes away. */
export function abandonedRequest(
  port: number,
  options: { method?: string; path: string; headers?: http.OutgoingHttpHeaders; body?: string },
  abortWhen: Promise<unknown>,
): Promise<void> {
  return new Promise((resolve) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: options.method ?? 'GET',
      path: options.path,
      headers: options.headers,
      agent: false,
    });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.on('response', (res) => res.resume());
    if (options.body === undefined) req.end();
    else {
      req.write(options.body);
      req.flushHeaders();
    }
    void abortWhen.then(() => req.destroy());
  });
}
