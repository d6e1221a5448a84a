import type { IncomingMessage } from 'node:http';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { OptionsValidator } from '@resilience/core/internal';
import { headersOf } from './accessors.js';
import { ClientDisconnectedError, RequestBodyError } from './errors.js';
import { parseBody } from './parse-body.js';

// maxBodyBytes: 1 MiB.
export const BODY_DEFAULTS = {
  maxBodyBytes: 1_048_576,
} as const;

export interface BodyReaderOptions {
  /**
   * The most bytes read from a body, before and after decompression; a larger body is a
   * {@link RequestBodyError} `body_too_large` (413). @default 1_048_576 (1 MiB)
   */
  maxBodyBytes?: number;
  /** Leave a JSON body that is not an object or an array unparsed (its bytes); `false` parses any JSON value. @default true */
  jsonStrict?: boolean;
}

/** A body read by a {@link bodyReader}. */
export interface RequestBody {
  /** The body's bytes, decoded from its `Content-Encoding` (as they came in one it cannot decode); empty without a body. */
  readonly raw: Buffer;
  /**
   * What the usual parser would have made of it: the JSON value for `application/json` and
   * `*+json` (`{}` when empty; an object or an array unless `jsonStrict` is false), an object
   * of strings (arrays for repeated names) for `application/x-www-form-urlencoded`, a string
   * for `text/*`, the bytes for any other type, `undefined` without a body or a `Content-Type`,
   * or for one it cannot decode or parse.
   */
  readonly parsed: unknown;
}

/** Reads one request's body; resolves `undefined` when something has already read it. */
export type BodyReader = (req: IncomingMessage, signal?: AbortSignal) => Promise<RequestBody | undefined>;

const NO_BODY: RequestBody = Object.freeze({ raw: Buffer.alloc(0), parsed: undefined });

type Inflate = (bytes: Buffer, options: { maxOutputLength: number }) => Buffer;
const INFLATE: Record<string, Inflate | undefined> = {
  identity: undefined,
  gzip: gunzipSync,
  'x-gzip': gunzipSync,
  deflate: inflateSync,
  br: brotliDecompressSync,
};

type Readable = IncomingMessage & { _body?: unknown };

/** Whether a parser (or anything else) has read the stream, so reading it again would hang. */
const consumed = (req: Readable): boolean => req.readableDidRead || req.readableEnded || req._body === true;

/**
 * Makes a reader of request bodies, for fingerprinting a request when no body parser has run.
 * It reads at most `maxBodyBytes` and never touches a stream that was already read (it
 * resolves `undefined`: use what the parser left on `req.body`). A body over the limit is
 * refused from its `Content-Length` without reading it, or as soon as the bytes pass the limit.
 */
export function bodyReader(options: BodyReaderOptions = {}): BodyReader {
  const v = new OptionsValidator('bodyReader');
  const o = v.known(options, { maxBodyBytes: true, jsonStrict: true });
  v.integer('maxBodyBytes', o.maxBodyBytes, { min: 0 });
  v.boolean('jsonStrict', o.jsonStrict);
  v.done();
  const maxBodyBytes = o.maxBodyBytes ?? BODY_DEFAULTS.maxBodyBytes;
  const jsonStrict = o.jsonStrict !== false;

  return async function readBody(req, signal) {
    // Read by a reader before (a second idempotency middleware): what it read.
    if (consumed(req)) return bodies.get(req);
    const headers = headersOf(req);
    const length = headers['content-length'];
    if (headers['transfer-encoding'] === undefined && length === undefined && !framed(req)) return NO_BODY;
    // Nothing to read: the stream is left as it came, for a parser after the middleware to end.
    if (headers['transfer-encoding'] === undefined && length === '0') {
      return { raw: NO_BODY.raw, parsed: parseBody(NO_BODY.raw, headers['content-type'], jsonStrict) };
    }
    if (Number(headers['content-length']) > maxBodyBytes) throw tooLarge(maxBodyBytes);
    const wire = await collect(req, maxBodyBytes, signal);
    const coding = (headers['content-encoding'] ?? 'identity').toLowerCase();
    let raw = wire;
    let parsed: unknown;
    // Nothing but a body over maxBodyBytes is refused here: one in a coding or a charset it cannot
    // decode, or that does not parse, is fingerprinted by its bytes, and the parser after the
    // middleware (or the handler) answers it as it answers the same body without a key.
    try {
      // Own names only: `constructor` or `__proto__` is no coding of ours (`in` finds Object.prototype's).
      if (Object.hasOwn(INFLATE, coding)) {
        raw = inflate(wire, INFLATE[coding], maxBodyBytes);
        parsed = parseBody(raw, headers['content-type'], jsonStrict);
      }
    } catch (error) {
      if ((error as RequestBodyError).code === 'body_too_large') throw error;
    }
    const body = { raw, parsed };
    bodies.set(req, body);
    return body;
  };
}

/** The bodies {@link bodyReader}s read, for one after them: the stream then says it was read. */
const bodies = new WeakMap<IncomingMessage, RequestBody>();

/**
 * An HTTP/2 request has a body unless its stream ended with the headers: its length is
 * framed, with or without a `Content-Length` (HTTP/1 has neither: no body).
 */
const framed = (req: IncomingMessage): boolean =>
  req.httpVersionMajor >= 2 && (req as { stream?: { endAfterHeaders?: boolean } }).stream?.endAfterHeaders === false;

const tooLarge = (limitBytes: number) =>
  new RequestBodyError('body_too_large', `The request body is larger than ${limitBytes} bytes`, { limitBytes });

/**
 * Reads the body to its end and puts its bytes back on the stream before its 'end' event, so a
 * parser after the middleware that reads the stream whatever the framework's marks say (multer,
 * koa-body, formidable) gets the same bytes instead of an ended stream (a 500, or a hang).
 */
function collect(req: IncomingMessage, maxBodyBytes: number, signal: AbortSignal | undefined): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (error: unknown) => {
      req.off('readable', onReadable).off('end', onEnd).off('error', onError).off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
      if (error === undefined) {
        const wire = Buffer.concat(chunks, size);
        req.unshift(wire); // an empty one is no chunk
        resolve(wire);
        return;
      }
      // The rest of the body is dropped; the 413 asks for `Connection: close`.
      req.resume();
      reject(error);
    };
    const onReadable = () => {
      for (let chunk: Buffer | null; (chunk = req.read()) !== null; ) {
        size += chunk.length;
        if (size > maxBodyBytes) return settle(tooLarge(maxBodyBytes));
        chunks.push(chunk);
      }
      // Ended but its 'end' not yet emitted: what is unshifted now is read before it.
      if ((req as { _readableState?: { ended?: boolean } })._readableState?.ended) settle(undefined);
    };
    // An empty body: Node ends the stream without a 'readable' for it.
    const onEnd = () => settle(undefined);
    // The request stream fails only when its connection does ('aborted', ECONNRESET).
    const onError = (cause: unknown) => settle(new ClientDisconnectedError({ cause }));
    const onClose = () => settle(new ClientDisconnectedError());
    const onAbort = () => settle(signal!.reason);
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    // Destroyed before it was read (its client left while a middleware before this one ran):
    // Node dropped what had come, and no 'data', 'end' or 'close' is to follow.
    if (req.destroyed) {
      reject(new ClientDisconnectedError());
      return;
    }
    req.on('readable', onReadable).once('end', onEnd).once('error', onError).once('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

const UNDECODED = 'The request body does not match its Content-Encoding';

function inflate(wire: Buffer, decode: Inflate | undefined, maxBodyBytes: number): Buffer {
  if (decode === undefined) return wire;
  try {
    return decode(wire, { maxOutputLength: maxBodyBytes });
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(maxBodyBytes);
    throw new RequestBodyError('body_invalid', UNDECODED, { cause: error });
  }
}

const ABORTED = /^(request[. ]aborted|ECONNABORTED|ECONNRESET)$/i;

/**
 * A body parser's failure because its client left mid-body as the {@link ClientDisconnectedError}
 * it is (499, cancelled). A body parser's failure to decode the request's own body (`@koa/bodyparser` passes zlib's
 * error on as it is; body-parser makes it a 400 that keeps zlib's code) as the
 * {@link RequestBodyError} it is, the client's 400, as {@link bodyReader} answers that body:
 * core reads zlib's and brotli's codes (`Z_DATA_ERROR`, `ERR__ERROR_FORMAT_PADDING_1`) as an
 * upstream's body that does not decompress (502). Only for a request whose body, in a coding
 * of {@link INFLATE}, was read, and an error with no upstream answer; others are returned as they are.
 */
export function requestBodyFailure(req: IncomingMessage, error: unknown): unknown {
  try {
    const e = error as { code?: string; type?: unknown; message?: unknown; response?: unknown; isAxiosError?: unknown };
    // A body parser whose client left before the body ended (raw-body's 400 `request.aborted`,
    // under body-parser, co-body and @koa/bodyparser; multer's plain 'Request aborted'; Node's
    // ECONNRESET `aborted`): the client cancelled, a 499 as the signal and our reader record
    // it, not the parser's 400 (or a 500, logged).
    if (!req.complete && req.destroyed && [e.type, e.code, e.message].some((v) => ABORTED.test(v as string))) {
      return new ClientDisconnectedError({ cause: error });
    }
    const coding = headersOf(req)['content-encoding']?.toLowerCase() as string;
    if (
      !/^(Z_|ERR__)/.test(e.code!) ||
      e.response !== undefined ||
      e.isAxiosError ||
      !(Object.hasOwn(INFLATE, coding) && INFLATE[coding] && req.readableDidRead)
    ) {
      return error;
    }
  } catch {
    return error; // null, a symbol code, getters that throw: none of these
  }
  return new RequestBodyError('body_invalid', UNDECODED, { cause: error });
}

/**
 * Leaves a body read by a {@link bodyReader} on `req.body` and `req.rawBody` for a handler
 * without a parser; one after it re-reads the bytes put back on the stream. body-parser 1's
 * `req._body` only for an ended stream (it would fail on it).
 */
export function setRequestBody(req: IncomingMessage, body: RequestBody): void {
  const ended = req.readableEnded;
  if (body.parsed === undefined && !ended) return;
  // A record, not the request type: body parsers' typings declare `rawBody` (as a string) on it.
  const target = req as unknown as Record<string, unknown>;
  target.body = body.parsed;
  target.rawBody = body.raw;
  if (ended) target._body = true;
}
