import { type Clock, systemClock } from '../clock/clock.js';
import { classify, type ErrorCategory } from '../errors/classify.js';
import { hideUrlSecrets } from '../errors/errors.js';
import { copied, cutText } from './names.js';
import { type RecentErrorsOptions, resolveRecentErrorsOptions } from './options.js';

/** One recorded error, as an admin view lists it. */
export interface RecentError {
  /** When it was recorded (clock ms). */
  readonly at: number;
  readonly category: ErrorCategory;
  readonly name: string;
  /** The error's message, a URL's password and query hidden (`…`), cut to `maxMessageLength` characters. */
  readonly message: string;
  /** The error's `code` (the toolkit's own, a Node or driver code ...), when it has one. */
  readonly code?: string | number;
  /** The HTTP status the request was answered with. */
  readonly status?: number;
  readonly correlationId?: string;
  /** The route, as the framework names it (`GET /orders/:id`), not the raw URL. */
  readonly route?: string;
}

/** What the caller knows about where an error happened. */
export interface RecentErrorContext {
  readonly correlationId?: string;
  readonly route?: string;
  readonly status?: number;
}

/** Correlation ids and routes are cut to this many characters. */
const MAX_LABEL = 200;

// Copied: a short field may still be a slice of a long string, which it would keep alive.
const cut = (text: string, max: number): string => copied(text.length > max ? `${cutText(text, max)}…` : text);

/**
 * The last `max` errors, newest first: a ring buffer for admin routes and dashboards
 * (`GET /api/resilience/errors/recent`). Recording is O(1) and never throws.
 */
export class RecentErrors {
  readonly max: number;
  readonly #maxMessageLength: number;
  readonly #clock: Clock;
  readonly #ring: (RecentError | undefined)[];
  #next = 0;
  #size = 0;

  constructor(options: RecentErrorsOptions = {}) {
    const o = resolveRecentErrorsOptions(options);
    this.max = o.max;
    this.#maxMessageLength = o.maxMessageLength;
    this.#clock = options.clock ?? systemClock;
    this.#ring = new Array(o.max);
  }

  /** Errors held now. */
  get size(): number {
    return this.#size;
  }

  /** Records `error` (anything thrown), classified, and returns the entry. */
  record(error: unknown, context: RecentErrorContext = {}): RecentError {
    const entry = this.#entry(error, context);
    this.#ring[this.#next] = entry;
    this.#next = (this.#next + 1) % this.max;
    if (this.#size < this.max) this.#size++;
    return entry;
  }

  /** The errors held, newest first. */
  list(): RecentError[] {
    const out: RecentError[] = [];
    for (let i = 1; i <= this.#size; i++) out.push(this.#ring[(this.#next - i + this.max) % this.max]!);
    return out;
  }

  clear(): void {
    this.#ring.fill(undefined);
    this.#next = 0;
    this.#size = 0;
  }

  #entry(error: unknown, context: RecentErrorContext): RecentError {
    const at = this.#clock.now();
    let category: ErrorCategory = 'unknown';
    let name = 'Error';
    let message = '';
    let code: unknown;
    try {
      category = classify(error);
      const e = typeof error === 'object' && error !== null ? (error as Record<string, unknown>) : undefined;
      if (typeof e?.name === 'string') name = e.name;
      message = typeof e?.message === 'string' ? e.message : String(error);
      code = e?.code;
    } catch {
      // A hostile error (a throwing getter or proxy): keep what was read.
    }
    const entry: { -readonly [K in keyof RecentError]: RecentError[K] } = {
      at,
      category,
      name: cut(name, MAX_LABEL),
      message: copied(hideUrlSecrets(message, this.#maxMessageLength)),
    };
    if (typeof code === 'string') entry.code = cut(code, MAX_LABEL);
    else if (typeof code === 'number') entry.code = code;
    if (typeof context.correlationId === 'string') entry.correlationId = cut(context.correlationId, MAX_LABEL);
    if (typeof context.route === 'string') entry.route = cut(context.route, MAX_LABEL);
    if (typeof context.status === 'number') entry.status = context.status;
    return entry;
  }
}

/**
 * A bounded list of recent errors (classified, with correlation id, time and route) that
 * `errorHandler({ recentErrors })` records into and `adminRoutes({ recentErrors })` lists.
 */
export function recentErrors(options: RecentErrorsOptions = {}): RecentErrors {
  return new RecentErrors(options);
}
