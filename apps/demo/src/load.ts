import type { Clock } from '@resilience/core';
import { seededRandom } from '@resilience/core/testing';
import { DECLINED_CARD } from './provider.js';
import { type Fault, type Phase, type PhaseName, phaseAt } from './schedule.js';
import type { ApiName, DemoAnswer, DemoRequest, Send } from './targets.js';

/** The well-behaved clients; the noisy one sends more than its quota allows. */
const CLIENTS = ['client-a', 'client-b', 'client-c'];
const NOISY = 'noisy';
/** Share of requests that are orders, of orders paid with the card the provider declines, of orders sent twice. */
const ORDER_SHARE = 0.25;
const DECLINED_SHARE = 0.1;
const REPLAY_SHARE = 0.3;
/** Most requests in flight; a tick beyond it sends nothing (counted as `skipped`). */
const MAX_IN_FLIGHT = 500;
/** The warm-up's API keys, one a request (a key of its own, so no warm-up request is rate-limited). */
export const WARM_UP_KEYS = Array.from({ length: 12 }, (_, i) => `warm-up-${i}`);
/** No demo request waits longer than this. */
const REQUEST_LIMIT_MS = 30_000;

export type Outcome = 'ok' | 'declined' | 'rate_limited' | 'failed';

/** One request the load generator sent, and what came of it. */
export interface Sample {
  id: string;
  api: ApiName;
  kind: 'quote' | 'order' | 'replay';
  noisy: boolean;
  phase: PhaseName;
  /** Since the run started. */
  startMs: number;
  latencyMs: number;
  status: number;
  outcome: Outcome;
  /** For a replay: it came back with the first answer's body (and, over HTTP, marked replayed). */
  replayMatched?: boolean;
  /** Why it failed, as the API said (see `DemoAnswer.cause`). */
  cause?: string;
  /** The faults the provider injected into the upstream calls made for it (joined at the end). */
  faults: readonly Fault[];
}

export interface LoadOptions {
  apis: Record<ApiName, Send>;
  phases: readonly Phase[];
  durationMs: number;
  ratePerApi: number;
  noisyPerApi: number;
  seed: number;
  clock: Clock;
}

/**
 * Drives every API at a steady rate through the schedule: quotes and orders from three
 * well-behaved clients in turn, some orders sent again with the same idempotency key, and a
 * noisy client over its rate limit. Open loop: a slow answer does not slow the arrivals.
 */
export class LoadGenerator {
  readonly samples: Sample[] = [];
  skipped = 0;
  inFlight = 0;
  readonly #options: LoadOptions;
  /** The requests' kinds, cards and amounts: the same for a seed whatever the timing. */
  readonly #random;
  /** Which answered orders are sent again: drawn as answers arrive, so apart from the requests'. */
  readonly #replays;
  readonly #pending = new Set<Promise<void>>();
  #startedAt: number | undefined;
  #next = 0;

  constructor(options: LoadOptions) {
    this.#options = options;
    this.#random = seededRandom(options.seed ^ 0x10ad);
    this.#replays = seededRandom(options.seed ^ 0x4e9a);
  }

  /** Milliseconds since the run started (0 until it starts: the warm-up is no part of it). */
  get elapsedMs(): number {
    return this.#startedAt === undefined ? 0 : this.#options.clock.now() - this.#startedAt;
  }

  /** Sends a few quotes and orders to one API, unrecorded: connections open, code compiled. */
  async warmUp(api: ApiName): Promise<void> {
    const send = this.#options.apis[api];
    const requests = WARM_UP_KEYS.map((apiKey, i): DemoRequest => {
      const id = `warm-up-${api}-${i}`;
      if (i % 3 > 0) return { kind: 'quote', id, apiKey };
      return {
        kind: 'order',
        id,
        apiKey,
        idempotencyKey: id,
        order: { orderId: id, amount: 1, card: '4242-4242-4242-4242' },
      };
    });
    // One at a time: the adaptive throttle, knowing no accepted call yet, sheds a burst of
    // concurrent first requests (each counts as a request before any counts as accepted).
    for (const request of requests) await send(request, AbortSignal.timeout(REQUEST_LIMIT_MS));
  }

  /** Sends the schedule's load, then waits for every answer. */
  async run(): Promise<void> {
    const { clock, durationMs, ratePerApi, noisyPerApi } = this.#options;
    const startedAt = clock.now();
    this.#startedAt = startedAt;
    const apis = Object.keys(this.#options.apis) as ApiName[];
    const tickMs = 1_000 / Math.max(ratePerApi, noisyPerApi);
    let good = 0;
    let noisy = 0;
    for (let tick = 0; tick * tickMs < durationMs; tick++) {
      const due = startedAt + tick * tickMs;
      if (due > clock.now()) await clock.sleep(due - clock.now());
      const elapsed = tick * tickMs;
      for (; good < (elapsed * ratePerApi) / 1_000; good++) {
        for (const api of apis) this.#send(api, this.#request(CLIENTS[good % CLIENTS.length]!));
      }
      for (; noisy < (elapsed * noisyPerApi) / 1_000; noisy++) {
        for (const api of apis) this.#send(api, { kind: 'quote', id: this.#id(), apiKey: NOISY });
      }
    }
    while (this.#pending.size > 0) await Promise.all(this.#pending);
  }

  #id(): string {
    return `req-${++this.#next}`;
  }

  #request(apiKey: string): DemoRequest {
    if (this.#random() >= ORDER_SHARE) return { kind: 'quote', id: this.#id(), apiKey };
    const orderId = `order-${this.#next + 1}`;
    const card = this.#random() < DECLINED_SHARE ? DECLINED_CARD : '4242-4242-4242-4242';
    const amount = Math.round(500 + this.#random() * 9_500) / 100;
    return {
      kind: 'order',
      id: this.#id(),
      apiKey,
      idempotencyKey: `key-${orderId}`,
      order: { orderId, amount, card },
    };
  }

  #send(api: ApiName, request: DemoRequest, first?: DemoAnswer): void {
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.skipped++;
      return;
    }
    this.inFlight++;
    const task = this.#exchange(api, request, first).finally(() => {
      this.inFlight--;
      this.#pending.delete(task);
    });
    this.#pending.add(task);
  }

  async #exchange(api: ApiName, request: DemoRequest, first: DemoAnswer | undefined): Promise<void> {
    const { phases } = this.#options;
    const startMs = this.elapsedMs;
    const answer = await this.#options.apis[api](request, AbortSignal.timeout(REQUEST_LIMIT_MS));
    const sample: Sample = {
      id: request.id,
      api,
      kind: first ? 'replay' : request.kind,
      noisy: request.apiKey === NOISY,
      phase: phaseAt(phases, startMs).name,
      startMs,
      latencyMs: this.elapsedMs - startMs,
      status: answer.status,
      outcome: outcomeOf(request, answer),
      faults: [],
    };
    if (answer.cause !== undefined) sample.cause = answer.cause.slice(0, 120);
    if (first) sample.replayMatched = replayMatches(api, first, answer);
    this.samples.push(sample);
    if (!first && request.kind === 'order' && sample.outcome === 'ok' && this.#replays() < REPLAY_SHARE) {
      this.#send(api, { ...request, id: this.#id() }, answer);
    }
  }
}

function outcomeOf(request: DemoRequest, answer: DemoAnswer): Outcome {
  if (answer.status >= 200 && answer.status < 300) return 'ok';
  if (answer.status === 402 && request.kind === 'order' && request.order.card === DECLINED_CARD) return 'declined';
  if (answer.status === 429) return 'rate_limited';
  return 'failed';
}

/** A replay is right when it returns the first answer's body; Express and Koa must also mark it. */
function replayMatches(api: ApiName, first: DemoAnswer, again: DemoAnswer): boolean {
  const same = again.status === first.status && JSON.stringify(again.body) === JSON.stringify(first.body);
  return same && (api === 'trpc' || again.replayed);
}
