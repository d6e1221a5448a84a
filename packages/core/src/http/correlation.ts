import { type Random, systemRandom } from '../clock/clock.js';
import { type CorrelationIdOptions, resolveCorrelationIdOptions } from './options.js';

/** The headers a correlation id is taken from (Node's lower-case `req.headers` values). */
export interface CorrelationHeaders {
  /** `X-Request-Id`. */
  readonly requestId?: string | readonly string[] | undefined;
  /** W3C `traceparent`. */
  readonly traceparent?: string | readonly string[] | undefined;
}

/** Picks or makes one request's correlation id. */
export type CorrelationIdSource = (headers: CorrelationHeaders) => string;

/** Characters a request id may hold: none that could split a log line or a header, or open markup. */
const REQUEST_ID = /^[A-Za-z0-9._~:/+=@-]+$/;
/** version-traceid-parentid-flags; a version above 00 may append fields. */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

const first = (v: string | readonly string[] | undefined): string | undefined =>
  (Array.isArray(v) ? v[0] : v) as string | undefined;

function traceId(header: string | undefined): string | undefined {
  const m = header === undefined ? null : TRACEPARENT.exec(header);
  if (m === null) return undefined;
  const [, version, trace, parent, , more] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string | undefined,
  ];
  if (version === 'ff' || (version === '00' && more !== undefined)) return undefined;
  if (/^0+$/.test(trace) || /^0+$/.test(parent)) return undefined;
  return trace;
}

/**
 * A request's correlation id: its `X-Request-Id` when 1 to `maxLength` characters of
 * `[A-Za-z0-9._~:/+=@-]`, else a valid `traceparent`'s trace id, else a UUID v4.
 */
export function correlationIds(options: CorrelationIdOptions = {}): CorrelationIdSource {
  const { maxLength } = resolveCorrelationIdOptions(options);
  const random: Random = options.random ?? systemRandom;
  // Two hex digits per byte, built per factory (nothing runs at import): a lookup is several
  // times faster than Number#toString(16) per id.
  const hex = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
  const byte = () => (random() * 256) & 0xff;
  const two = () => hex[byte()]! + hex[byte()]!;
  // 122 random bits; the version (4) and the variant (10xx) take the other six.
  const uuid = () =>
    `${two()}${two()}-${two()}-4${two().slice(1)}-${hex[(byte() & 0x3f) | 0x80]}${hex[byte()]}-${two()}${two()}${two()}`;
  return function correlationId(headers) {
    const requestId = first(headers?.requestId);
    if (requestId !== undefined && requestId.length <= maxLength && REQUEST_ID.test(requestId)) return requestId;
    return traceId(first(headers?.traceparent)) ?? uuid();
  };
}
