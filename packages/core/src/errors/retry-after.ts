import { asBag } from './bag.js';

function header(headers: unknown, name: string): unknown {
  const h = asBag(headers);
  if (!h) return undefined;
  if (typeof h.get === 'function') {
    const value = (h.get as (n: string) => unknown).call(h, name);
    if (value !== null && value !== undefined) return value;
  }
  return h[name] ?? (name === 'retry-after' ? h['Retry-After'] : undefined);
}

const DECIMAL = /^\d+(\.\d+)?$/;

const HTTP_DATE = /^\w+, \d\d[ -]\w{3}[ -]\d+ \d\d:\d\d:\d\d GMT$|^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$/;

/**
 * Parses a `Retry-After` value (RFC 9110 §10.2.3): delay-seconds or an HTTP-date (GMT).
 * Returns milliseconds from `nowMs`, never negative, or `undefined` when unparsable.
 */
export function parseRetryAfter(value: unknown, nowMs: number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
  if (Array.isArray(value)) return parseRetryAfter(value[0], nowMs);
  if (typeof value !== 'string') return undefined;
  // The first of a field sent twice (`fetch` joins them: `2, 2`); a date's own comma follows its weekday.
  const text = value.split(/(?<=\d|GMT),/i)[0]!.trim();
  if (DECIMAL.test(text)) return Number(text) * 1000;
  // The three HTTP-date forms only (`Date.parse` reads a year in `foo 2030`, and a date without
  // its zone in the local one): IMF-fixdate, rfc850-date, asctime-date (no zone: GMT).
  if (!HTTP_DATE.test(text)) return undefined;
  const at = Date.parse(/:\d\d \d{4}$/.test(text) ? `${text} GMT` : text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

const waitOf = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/**
 * The wait in ms a failed call asks for: its own or its `data`'s `retryAfterMs` (`Infinity`:
 * never), else a `retry-after-ms` or `Retry-After` header on it, its `response`, its
 * `meta.response` or its `cause`; `undefined` when it names none (docs/errors.md).
 */
export function retryAfterMs(error: unknown, nowMs: number, depth = 0): number | undefined {
  try {
    const e = asBag(error);
    if (!e) return undefined;
    // Infinity too: never (an isolated breaker), so a retry gives up rather than back off and ask again.
    const own = e.retryAfterMs;
    if (typeof own === 'number' && own >= 0) return own;
    const data = asBag(e.data)?.retryAfterMs;
    if (waitOf(data)) return data;
    const all = [e.headers, asBag(e.response)?.headers, asBag(asBag(e.meta)?.response)?.headers];
    for (const headers of all) {
      const field = header(headers, 'retry-after-ms');
      const ms = String(Array.isArray(field) ? field[0] : field)
        .split(',')[0]!
        .trim(); // sent twice (`250, 250`): the first
      if (DECIMAL.test(ms)) return Number(ms);
    }
    const value = all.map((headers) => header(headers, 'retry-after')).find((v) => v != null);
    const parsed = parseRetryAfter(value, nowMs);
    if (parsed !== undefined) return parsed;
    return depth < 5 ? retryAfterMs(e.cause, nowMs, depth + 1) : undefined;
  } catch {
    return undefined; // a field that throws when read: no wait named
  }
}
