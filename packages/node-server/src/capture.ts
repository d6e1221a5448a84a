import type { ServerResponse } from 'node:http';
import { type Clock, systemClock, type TimerHandle } from '@resilience/core';
import { OptionsValidator } from '@resilience/core/internal';
import { isClosed, isEnded, onceClosed } from './accessors.js';
import { BODY_DEFAULTS } from './body.js';
import { merged } from './headers.js';
import type { LateAnswer, LateObserver, LateResponse } from './late-response.js';
import { lateResponse, responseError } from './request-state.js';

/**
 * Response headers a replay does not repeat: hop-by-hop fields, `date`, and those that
 * describe this response rather than the result (rate-limit fields, `retry-after`, the
 * correlation id `x-request-id`). `content-length` is kept: a HEAD's record repeats it (the
 * length of the GET body it stands for); any other's leaves it out (core's `replayRecord`).
 */
export const UNREPLAYED_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'date',
  'retry-after',
  'ratelimit',
  'ratelimit-policy',
  'ratelimit-limit',
  'ratelimit-remaining',
  'ratelimit-reset',
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
  'x-request-id',
]);

/** A response as it was sent, for an idempotency record to replay. */
export interface CapturedResponse {
  readonly status: number;
  /** Lower-case names; values as set (several `set-cookie` stay an array), minus {@link UNREPLAYED_HEADERS}. */
  readonly headers: Readonly<Record<string, string | string[]>>;
  /** Every byte written, however it was written; empty when `complete` is false. */
  readonly body: Buffer;
  /** False when the body passed `maxBodyBytes`: it was sent, but not kept, so it cannot be replayed. */
  readonly complete: boolean;
}

export interface ResponseCaptureOptions {
  /** The most body bytes kept. @default 1_048_576 (1 MiB) */
  maxBodyBytes?: number;
  /**
   * Called once per response as soon as the capture knows the body will not be kept: when
   * `writeHead` declares a `Content-Length` over the limit, or at the write that passes it.
   * While `res.headersSent` is false a header set here still goes out (the adapter's
   * documented "not recorded" header); past that, only a log line can say it.
   */
  onTooLarge?: (res: ServerResponse) => void;
  /**
   * How long the capture still waits for the handler to end the response after the client
   * left (the handler ends it on a closed connection as on an open one), or after the toolkit
   * answered for it (a timeout's 503: the handler's later writes reach the capture, not the
   * wire): what it sends then is captured as usual. The idempotency middleware waits its
   * `lockTimeoutMs`, so a retry is answered with the run it replaced, never a second run.
   * @default 0 (resolve `undefined` at once)
   */
  lingerMs?: number;
  /** Times `lingerMs`. @default systemClock */
  clock?: Clock | undefined;
  /**
   * Called when the client has left and the capture starts to linger, with the `context`
   * given to the capture: an adapter whose framework writes nothing to a closed connection
   * (Koa) has it write the handler's answer anyway, so the capture sees it.
   */
  onLeft?: ((res: ServerResponse, context: unknown) => void) | undefined;
  /**
   * Called when the toolkit has answered for the handler (a timeout) and the capture waits
   * for the handler's own answer: an adapter whose framework ignores the handler once a
   * response has gone out (Koa drops `ctx.status` and `ctx.set`) lets it reach the response.
   */
  onAnsweredFor?: ((res: ServerResponse, context: unknown) => void) | undefined;
  /**
   * Called, after `onAnsweredFor`, when the handler has settled without ending the response:
   * an adapter whose framework writes the handler's answer after it (Koa's `ctx.body`) writes
   * it now, or writes nothing when it cannot be written faithfully (the key is then freed).
   */
  onSettled?: ((res: ServerResponse, context: unknown) => void) | undefined;
}

/**
 * Starts capturing one response; resolves once it has closed, with what the handler sent, or
 * `undefined` when the handler never ended it (the client left first, or it was destroyed,
 * or the toolkit answered for it, and the handler did not end it within `lingerMs`, or it
 * settled without ending it).
 */
export type ResponseCapture = (res: ServerResponse, context?: unknown) => Promise<CapturedResponse | undefined>;

type Chunk = string | Uint8Array | null | undefined;
type Write = (...args: unknown[]) => boolean;
type End = (...args: unknown[]) => ServerResponse;
type WriteHead = (status: number, ...rest: unknown[]) => ServerResponse;

/**
 * Makes a capture of responses for idempotency replay. It wraps the response's `writeHead`,
 * `write` and `end` on the instance, so it sees what `res.json`, `res.send`, Koa's `ctx.body`
 * and piped streams all end in, and reads the status and headers as they go out (headers
 * passed to `writeHead` included). Install it before the handler runs.
 */
export function responseCapture(options: ResponseCaptureOptions = {}): ResponseCapture {
  const v = new OptionsValidator('responseCapture');
  const o = v.known(options, {
    maxBodyBytes: true,
    onTooLarge: true,
    lingerMs: true,
    clock: true,
    onLeft: true,
    onAnsweredFor: true,
    onSettled: true,
  });
  v.integer('maxBodyBytes', o.maxBodyBytes, { min: 0 });
  v.function('onTooLarge', o.onTooLarge);
  v.number('lingerMs', o.lingerMs, { min: 0 });
  v.clock('clock', o.clock);
  v.function('onLeft', o.onLeft);
  v.function('onAnsweredFor', o.onAnsweredFor);
  v.function('onSettled', o.onSettled);
  v.done();
  const maxBodyBytes = o.maxBodyBytes ?? BODY_DEFAULTS.maxBodyBytes;
  const onTooLarge = o.onTooLarge;
  const lingerMs = o.lingerMs ?? 0;
  const clock = o.clock ?? systemClock;
  const onLeft = o.onLeft;
  const onAnsweredFor = o.onAnsweredFor;
  const onSettled = o.onSettled;

  /**
   * The toolkit answered for the handler (a timeout's 503), which still runs: `res`'s late
   * answer is the handler's, waited for up to `lingerMs`. Returns `late` if there is one.
   * Made once per capture, run only for such a response: a request answered in time costs
   * one lookup and no closure.
   */
  const awaitLate = (
    res: ServerResponse,
    context: unknown,
    keep: (chunk: Chunk, encoding: unknown) => void,
    captured: (answer: LateAnswer) => void,
    resolve: (captured: undefined) => void,
  ): LateResponse | undefined => {
    const late = lateResponse(res);
    if (late === undefined) return undefined;
    if (lingerMs === 0) {
      resolve(undefined);
      return late;
    }
    const lingering = clock.setTimeout(() => resolve(undefined), lingerMs);
    late.observe({
      write: keep as NonNullable<LateObserver['write']>,
      end(answer) {
        clock.clearTimeout(lingering);
        if (answer === undefined) resolve(undefined);
        else captured(answer);
      },
      ...(onSettled === undefined ? {} : { settled: () => onSettled(res, context) }),
    });
    onAnsweredFor?.(res, context);
    return late;
  };

  return (res, context) =>
    new Promise((resolve) => {
      let status = 200;
      let headers: Record<string, string | string[]> | undefined;
      let chunks: Buffer[] = [];
      let size = 0;
      let complete = true;
      const drop = () => {
        complete = false;
        chunks = [];
        onTooLarge?.(res);
      };
      const keep = (chunk: Chunk, encoding: unknown) => {
        if (!complete || chunk === null || chunk === undefined || typeof chunk === 'function') return;
        // A copy: a writer may reuse its buffer once the write has been flushed.
        const bytes =
          typeof chunk === 'string'
            ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
            : Buffer.from(chunk);
        size += bytes.length;
        if (size <= maxBodyBytes) chunks.push(bytes);
        else drop();
      };
      const writeHead = res.writeHead as WriteHead;
      const write = res.write as Write;
      const end = res.end as End;
      // Set once the client has left before the response ended: the handler may still end it.
      let lingering: TimerHandle | undefined;
      // The error answered when the head went out: one answered after it (the handler failed
      // mid-response, the error handler cut it off) leaves nothing to record.
      let erred: unknown;
      let answered = false;
      const failed = () => headers !== undefined && !answered && responseError(res) !== erred;
      const captured = (answer?: LateAnswer) => {
        if (answer === undefined && failed()) return resolve(undefined);
        if (answer !== undefined) {
          status = answer.status;
          headers = replayable(merged(answer.headers, undefined));
        }
        const body = complete ? Buffer.concat(chunks, size) : Buffer.alloc(0);
        // On a closed connection Node writes no head: the status and headers are as set.
        if (headers === undefined) status = res.statusCode;
        resolve({ status, headers: headers ?? replayable(merged(res.getHeaders(), undefined)), body, complete });
      };
      // Whether the response is the handler's, or the toolkit's for it (`late`: the handler's
      // answer comes later, through the sealed response). Asked once, at the first writeHead or
      // end (the toolkit answers with `end`, which writes the head), before anything is kept.
      let decided = false;
      let late: LateResponse | undefined;
      // Read at entry: a wrapper installed later (compression, say) sees its own view first.
      res.writeHead = function (this: ServerResponse, code: number, ...rest: unknown[]) {
        if (!decided) {
          decided = true;
          late = awaitLate(res, context, keep, captured, resolve);
        }
        if (headers !== undefined || late !== undefined) return writeHead.call(this, code, ...rest);
        const sent = merged(res.getHeaders(), typeof rest[0] === 'string' ? rest[1] : rest[0]);
        if (complete && Number(sent['content-length']) > maxBodyBytes) drop();
        // A writeHead that throws (a bad status or header value) sends nothing: nothing is kept of it.
        const written = writeHead.call(this, code, ...rest);
        status = code;
        erred = responseError(res);
        headers = replayable(sent);
        return written;
      } as ServerResponse['writeHead'];
      // Set while `end` runs: an HTTP/2 response's end(chunk) writes the chunk through `write`.
      let ending = false;
      // A write or end after the end sends nothing (Node reports an error): nothing is kept of it.
      res.write = function (this: ServerResponse, ...args: unknown[]) {
        if (late === undefined && !ending && !this.writableEnded) keep(args[0] as Chunk, args[1]);
        return write.apply(this, args);
      } as ServerResponse['write'];
      res.end = function (this: ServerResponse, ...args: unknown[]) {
        if (!decided) {
          decided = true;
          late = awaitLate(res, context, keep, captured, resolve);
        }
        if (late !== undefined || this.writableEnded) return end.apply(this, args);
        keep(args[0] as Chunk, args[1]);
        // Not an end after the error handler cut it off.
        const whole = !res.destroyed;
        ending = true;
        let ended: ServerResponse;
        try {
          ended = end.apply(this, args);
        } finally {
          ending = false;
        }
        // The whole answer handed over: an error passed on after it (`res.json(…); next(err)`)
        // changes nothing the client gets. Not one whose `end` threw (`strictContentLength`).
        answered = whole;
        if (lingering !== undefined) {
          clock.clearTimeout(lingering);
          captured();
        }
        return ended;
      } as ServerResponse['end'];
      // Installed after the toolkit answered (the handler runs late): only its late answer counts.
      // (Once the toolkit's answer has closed, a late response reads as not ended: see `seal`.)
      if (isEnded(res) || lateResponse(res) !== undefined) {
        decided = true;
        late = awaitLate(res, context, keep, captured, resolve);
      }
      const closed = () => {
        if (late !== undefined) return;
        if (isEnded(res)) captured();
        // Destroyed with an error (a stream that failed mid-body), not left by the client: no linger.
        else if (lingerMs === 0 || failed() || res.errored) resolve(undefined);
        else {
          lingering = clock.setTimeout(() => resolve(undefined), lingerMs);
          onLeft?.(res, context);
        }
      };
      // Closed already: the client left before the handler was to run (while its key was
      // claimed), and `close` is not emitted again. The handler runs all the same, as for a
      // client that leaves while it runs.
      if (isClosed(res)) closed();
      else onceClosed(res, closed);
    });
}

function replayable(headers: Record<string, string | string[]>): Record<string, string | string[]> {
  for (const name of Object.keys(headers)) if (UNREPLAYED_HEADERS.has(name)) delete headers[name];
  return headers;
}
