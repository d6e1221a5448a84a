import { type OutgoingHttpHeaders, type ServerResponse, validateHeaderName, validateHeaderValue } from 'node:http';
import { merged } from './headers.js';

/** The answer a handler gave after the toolkit had answered for it: status and headers as it set them. */
export interface LateAnswer {
  readonly status: number;
  /** Lower-case names: the handler's headers when the toolkit answered, then its changes. */
  readonly headers: OutgoingHttpHeaders;
}

/** Who watches a handler's late answer (an idempotency capture), or only for its end (loadShedding). */
export interface LateObserver {
  /** A body chunk the handler wrote, as given to `write` or `end`. */
  write?(chunk: unknown, encoding: unknown): void;
  /**
   * The handler is done: it ended the response (`answer`), or settled without ending it, or
   * set its status or body while its reads still saw the toolkit's answer, so what it wrote
   * cannot be trusted to be what it meant (`undefined`). Called once; at once, with
   * `undefined`, for an observer that came after the handler was done.
   */
  end(answer: LateAnswer | undefined): void;
  /**
   * The handler settled (Koa: its promise) and has not ended the response: a framework that
   * writes its handler's answer after it (Koa's `ctx.body`) writes it now, or never.
   */
  settled?(): void;
}

const callLater = (callback: unknown) => {
  if (typeof callback === 'function') queueMicrotask(() => callback());
};

/**
 * What a handler does to a response after the toolkit answered it (a timeout's 503): nothing
 * reaches the wire and nothing throws, and what it writes — status, headers, body — goes to
 * an observer. While the toolkit's answer is being sent, everyone who reads the response
 * (loggers and metrics at `finish` and `close`) reads what went out; once it has closed,
 * reads see what the handler set (`statusCode`, the headers, `headersSent`), so `res.json()`,
 * `res.send()` and `res.status()` behave as on a fresh response. Made only on the rare path
 * that answers for a handler; watched by any number of observers (a capture, a shedder).
 *
 * `#open`: the toolkit's answer has closed, reads see what the handler set. `#early`: the
 * handler set its status or wrote its body before that, when its reads (`res.json` asks for
 * `Content-Type`, Koa's `ctx.body` too) still saw the toolkit's answer. A header set alone
 * counts as it is: whoever sets it (Koa middleware after `next()`) means it.
 */
export class LateResponse {
  #status: number;
  readonly #headers: OutgoingHttpHeaders;
  readonly #observers: LateObserver[] = [];
  #open = false;
  #early = false;
  #done = false;

  constructor(res: ServerResponse) {
    // The handler's status and headers as they are now, before the toolkit answers.
    this.#status = res.statusCode;
    this.#headers = res.getHeaders();
  }

  observe(observer: LateObserver): void {
    // Its `end` is called at once if the handler is done.
    if (this.#done) observer.end(undefined);
    else this.#observers.push(observer);
  }

  settled(): void {
    // The handler settled (Koa's timeout tells it): its answer is what it has written by now, or none.
    if (this.#done) return;
    for (const observer of this.#observers) observer.settled?.();
    this.#finish(undefined);
  }

  failed(): void {
    // The handler failed (a rejection, an error passed on): it has no answer, whatever it wrote.
    this.#finish(undefined);
  }

  seal(res: ServerResponse): void {
    // Takes over the response's writes, once the toolkit's answer has been handed to it.
    const sent = res.statusCode;
    const getHeader = res.getHeader;
    const getHeaders = res.getHeaders;
    const getHeaderNames = res.getHeaderNames;
    const hasHeader = res.hasHeader;
    const headers = this.#headers;
    // The handler's head has gone (as far as it can tell): it has written or ended its answer.
    let headSent = false;
    const write = (chunk: unknown, encoding: unknown) => {
      this.#touch();
      headSent = true;
      if (!this.#done && chunk !== null && chunk !== undefined && typeof chunk !== 'function') {
        for (const observer of this.#observers) observer.write?.(chunk, encoding);
      }
    };
    const set = (name: string, value: OutgoingHttpHeaders[string]) => {
      if (value === undefined) delete headers[name.toLowerCase()];
      else {
        // Node's own checks: a value it would refuse throws as it would in time, never recorded.
        validateHeaderName(name);
        validateHeaderValue(name, value as string);
        headers[name.toLowerCase()] = value;
      }
    };
    // After the close, a handler that checks `headersSent` before answering
    // (`if (!res.headersSent) res.json(…)`) answers. Nor is the response `finished` until the
    // handler is done: `send` (`res.sendFile`, `res.download`) gives up on one that is. Node's
    // own until then (compression may end the toolkit's answer later).
    let ended = res.finished;
    Object.defineProperties(res, {
      statusCode: {
        configurable: true,
        enumerable: true,
        get: () => (this.#open ? this.#status : sent),
        set: (code: number) => {
          this.#touch();
          this.#status = code;
        },
      },
      headersSent: { configurable: true, enumerable: true, get: () => !this.#open || headSent },
      finished: {
        configurable: true,
        get: () => (this.#open ? this.#done : ended),
        set: (v: boolean) => {
          ended = v;
        },
      },
    });
    Object.assign(res, {
      writeHead(this: ServerResponse, code: number, ...rest: unknown[]) {
        this.statusCode = code;
        headSent = true;
        const given = merged({}, typeof rest[0] === 'string' ? rest[1] : rest[0]);
        for (const name of Object.keys(given)) set(name, given[name]);
        return this;
      },
      setHeader(this: ServerResponse, name: string, value: OutgoingHttpHeaders[string]) {
        set(name, value);
        return this;
      },
      appendHeader(this: ServerResponse, name: string, value: string | readonly string[]) {
        const had = headers[name.toLowerCase()];
        set(name, ([] as unknown[]).concat(had ?? [], value).map(String));
        return this;
      },
      setHeaders(this: ServerResponse, given: Headers | Map<string, OutgoingHttpHeaders[string]>) {
        for (const [name, value] of given) set(name, value);
        return this;
      },
      removeHeader: (name: string) => set(name, undefined),
      getHeader: (name: string) => (this.#open ? headers[name.toLowerCase()] : getHeader.call(res, name)),
      getHeaders: () => (this.#open ? { ...headers } : getHeaders.call(res)),
      getHeaderNames: () => (this.#open ? Object.keys(headers) : getHeaderNames.call(res)),
      hasHeader: (name: string) => (this.#open ? headers[name.toLowerCase()] !== undefined : hasHeader.call(res, name)),
      flushHeaders() {},
      addTrailers() {},
      writeContinue() {},
      writeProcessing() {},
      writeEarlyHints(_hints: unknown, callback?: unknown) {
        callLater(callback);
      },
      write(chunk: unknown, encoding?: unknown, callback?: unknown) {
        write(chunk, encoding);
        callLater(typeof encoding === 'function' ? encoding : callback);
        return true;
      },
      end: (chunk?: unknown, encoding?: unknown, callback?: unknown) => {
        write(chunk, encoding);
        this.#finish({ status: this.#status, headers });
        callLater([chunk, encoding, callback].find((a) => typeof a === 'function'));
        return res;
      },
    });
    // Registered last: the close listeners registered before (loggers, metrics) read what went out.
    if (res.closed) this.#open = true;
    else res.once('close', () => (this.#open = true));
  }

  #touch(): void {
    if (!this.#open) this.#early = true;
  }

  #finish(answer: LateAnswer | undefined): void {
    if (this.#done) return;
    this.#done = true;
    for (const observer of this.#observers) observer.end(this.#early ? undefined : answer);
  }
}
