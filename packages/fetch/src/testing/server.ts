// A real HTTP server on 127.0.0.1 that answers each request with the next step of a script
// (the last step repeats), to inject faults: error statuses, Retry-After, dropped
// connections, responses that never come.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FakeClock } from '@resilience/core/testing';

export interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  /** Set when the client closed the connection before an answer. */
  aborted: boolean;
}

export type Step = (req: IncomingMessage, res: ServerResponse) => void;

export const answer =
  (status: number, body: unknown = { status }, headers: Record<string, string> = {}): Step =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

/** Destroys the connection without an answer (the client sees a reset or a closed socket). */
export const drop: Step = (req) => {
  req.socket.destroy();
};

/** Answers 200 with part of a JSON body shorter than its Content-Length, then destroys the connection. */
export const cut: Step = (req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
  res.write('{"partial":', () => req.socket.destroy());
};

/**
 * Writes `bytes` on the connection as they are, no HTTP around them, then closes it: a proxy
 * answering garbage, a TLS port spoken to in plain HTTP, a broken chunked body.
 */
export const raw =
  (bytes: string | Uint8Array): Step =>
  (req) => {
    req.socket.end(bytes);
  };

/** Never answers (until the client gives up or the server closes). */
export const hang: Step = () => {};

/**
 * `step`, run as soon as the request's headers came, without reading its body (a server that
 * refuses an upload at once, or one that never ends). Its `Seen` has an empty body.
 */
export const early = (step: Step): Step =>
  Object.assign((req: IncomingMessage, res: ServerResponse) => step(req, res), { early: true });

const isEarly = (step: Step): boolean => (step as { early?: boolean }).early === true;

export interface ScriptServer {
  readonly url: string;
  readonly host: string;
  readonly seen: Seen[];
  /** Replaces the script for the requests to come. */
  script(...steps: Step[]): void;
  /** Resolves once the server has seen `count` requests (bounded: rejects after many event-loop turns). */
  requests(count: number): Promise<void>;
  close(): Promise<void>;
}

export async function scriptServer(...initial: Step[]): Promise<ScriptServer> {
  let steps = initial;
  let served = 0;
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const next = steps[Math.min(served, steps.length - 1)]!;
    if (isEarly(next)) {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: '', aborted: false });
      served++;
      next(req, res);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const entry: Seen = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        aborted: false,
      };
      seen.push(entry);
      res.on('close', () => {
        if (!res.writableFinished) entry.aborted = true;
      });
      const step = steps[Math.min(served, steps.length - 1)]!;
      served++;
      step(req, res);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    seen,
    script(...next) {
      steps = next;
      served = 0;
    },
    requests: (count) => until(() => seen.length >= count, `${count} request(s) on the wire (saw ${seen.length})`),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Lets I/O and promise callbacks run until `condition` holds; fails after 100 000 event-loop turns, never waits on a timer. */
export async function until(condition: () => boolean, what: string): Promise<void> {
  for (let turn = 0; !condition(); turn++) {
    if (turn >= 100_000) throw new Error(`gave up waiting for ${what}`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/**
 * Advances `clock` a second at a time, each time once it waits or `promise` has settled, until
 * `promise` settles (at most `seconds` times): the waits of a request whose attempts go to a
 * real server between them.
 */
export async function drive<T>(clock: FakeClock, promise: Promise<T>, seconds = 10): Promise<T> {
  let done = false;
  void promise.finally(() => (done = true)).catch(() => {});
  for (let i = 0; i < seconds && !done; i++) {
    await until(() => done || clock.pendingTimers > 0, 'a wait or the end');
    await clock.advance(1_000);
  }
  return promise;
}
