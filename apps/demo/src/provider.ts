import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '@resilience/core';
import { seededRandom } from '@resilience/core/testing';
import { drawFault, type Fault, type Phase, type PhaseName, phaseAt } from './schedule.js';

/** How long a `slow` answer takes: longer than the clients' per-attempt timeout. */
export const SLOW_MS = 6_000;

/** The largest request body the provider reads: orders are a few dozen bytes. */
const MAX_BODY_BYTES = 16 * 1024;

/** A card number the provider always declines, so the checkout saga has something to undo. */
export const DECLINED_CARD = '4000-0000-0000-0002';

export interface ProviderOptions {
  phases: readonly Phase[];
  seed: number;
  clock: Clock;
}

/**
 * The fault-injecting provider: a small HTTP API (quotes, reservations, charges) that answers
 * each request as its current phase says — fine, a 5xx, a 429 with `Retry-After`, a dropped
 * connection, an answer too slow to wait for, or an outage. It writes down, per demo request
 * id (the `X-Request-Id` the APIs pass on), every fault it injected, so the summary can tell
 * which requests met a transient fault.
 */
export class Provider {
  readonly #options: ProviderOptions;
  readonly #random;
  readonly #server: Server;
  readonly #faults = new Map<string, Fault[]>();
  #startedAt = 0;
  #url = '';
  calls = 0;
  injected = 0;
  /** `injected` split by the phase each fault was injected in. */
  injectedIn: Partial<Record<PhaseName, number>> = {};

  constructor(options: ProviderOptions) {
    this.#options = options;
    this.#random = seededRandom(options.seed ^ 0x5eed);
    // A request it cannot answer (a body cut off mid-way) ends its connection, not the demo.
    this.#server = createServer((req, res) => void this.#answer(req, res).catch(() => req.socket.destroy()));
  }

  get url(): string {
    return this.#url;
  }

  /** The phase the provider is in now. */
  get phase(): Phase {
    return phaseAt(this.#options.phases, this.#options.clock.now() - this.#startedAt);
  }

  /** The faults injected into the upstream calls made for one demo request. */
  faultsOf(requestId: string): readonly Fault[] {
    return this.#faults.get(requestId) ?? [];
  }

  async listen(): Promise<string> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    this.#url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this.#url;
  }

  /**
   * Starts the schedule's clock: phase times count from here, and so do `calls`, `injected`
   * and the faults of each request (the warm-up's calls before it are not the run's).
   */
  start(): void {
    this.#startedAt = this.#options.clock.now();
    this.calls = 0;
    this.injected = 0;
    this.injectedIn = {};
    this.#faults.clear();
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    this.#server.close();
    await once(this.#server, 'close');
  }

  async #answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.calls++;
    const body = await readJson(req);
    if (body === undefined) return send(res, 413, { error: 'too_large' }, { connection: 'close' });
    const phase = this.phase;
    const fault = drawFault(phase, this.#random);
    const id = req.headers['x-request-id'];
    if (fault !== undefined) {
      this.injected++;
      this.injectedIn[phase.name] = (this.injectedIn[phase.name] ?? 0) + 1;
      if (typeof id === 'string') this.#faults.set(id, [...this.faultsOf(id), fault]);
    }
    switch (fault) {
      case 'drop':
        req.socket.destroy();
        return;
      case 'throttle_429':
        return send(res, 429, { error: 'rate_limited' }, { 'retry-after': String(phase.retryAfterS) });
      case 'outage':
        return send(res, 503, { error: 'unavailable' });
      case 'error_500':
      case 'error_502':
      case 'error_503':
        return send(res, Number(fault.slice(-3)), { error: 'upstream_error' });
      case 'slow':
        await this.#options.clock.sleep(SLOW_MS);
        break;
    }
    send(res, ...this.#route(req, body));
  }

  #route(req: IncomingMessage, body: Record<string, unknown>): [status: number, body?: object] {
    // The target as sent, query left off: `new URL` would throw on one like `http://[`.
    const pathname = (req.url ?? '/').split('?', 1)[0]!;
    const orderId = String(body.orderId);
    if (req.method === 'GET' && pathname === '/v1/quote') {
      return [200, { price: Math.round(1_000 + this.#random() * 9_000) / 100 }];
    }
    if (req.method === 'POST' && pathname === '/v1/reservations') return [201, { reservationId: `r-${orderId}` }];
    if (req.method === 'DELETE' && pathname.startsWith('/v1/reservations/')) return [204];
    if (req.method === 'POST' && pathname === '/v1/charges') {
      return body.card === DECLINED_CARD ? [402, { error: 'card_declined' }] : [201, { chargeId: `c-${orderId}` }];
    }
    return [404, { error: 'not_found' }];
  }
}

function send(res: ServerResponse, status: number, body?: object, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  res.writeHead(status, body === undefined ? headers : { 'content-type': 'application/json', ...headers });
  res.end(body === undefined ? undefined : JSON.stringify(body));
}

/** The request's JSON body (`{}` for none or none readable); undefined past `MAX_BODY_BYTES`. */
async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  let text = '';
  for await (const chunk of req) {
    text += chunk;
    if (text.length > MAX_BODY_BYTES) return undefined;
  }
  try {
    return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    return {};
  }
}
