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

/**
 * The time an HTTP-date names (RFC 9110 §5.6.7, case-sensitive), in ms since the epoch, or
 * `undefined` for none or a date that does not exist (`31 Feb`, hour 24, a day-name not the
 * date's); `imfOnly`: an IMF-fixdate only, the form a sender writes. An rfc850-date's year more
 * than 50 years after `nowMs` is the century's before.
 */
export function httpDateMs(text: string, nowMs: number, imfOnly?: boolean): number | undefined {
  let imf = text;
  const rfc850 = !imfOnly && /^(Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day, (\d\d)-(\w+)-(\d\d) (\S+) GMT$/.exec(text);
  const asctime = !imfOnly && /^(\w+) (\w+) ([ \d]\d) (\S+) (\d{4})$/.exec(text);
  if (rfc850) {
    const now = new Date(nowMs);
    const year = now.getUTCFullYear() - (now.getUTCFullYear() % 100) + Number(rfc850[4]);
    const at = (y: number) => `${rfc850[1]!.slice(0, 3)}, ${rfc850[2]} ${rfc850[3]} ${y} ${rfc850[5]} GMT`;
    imf = at(Date.parse(at(year)) > now.setUTCFullYear(now.getUTCFullYear() + 50) ? year - 100 : year);
  } else if (asctime) {
    imf = `${asctime[1]}, ${asctime[3]!.replace(' ', '0')} ${asctime[2]} ${asctime[5]} ${asctime[4]} GMT`;
  }
  // What `Date.parse` reads, written back, is the text: an IMF-fixdate, nothing rolled over, its day-name.
  const ms = Date.parse(imf);
  return new Date(ms).toUTCString() === imf ? ms : undefined;
}

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
  // Not `Date.parse`: it reads a year in `foo 2030`, a date without its zone in the local one,
  // and rolls `31 Feb` over into March.
  const at = httpDateMs(text, nowMs);
  return at === undefined ? undefined : Math.max(0, at - nowMs);
}

const waitOf = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/**
 * The wait in ms a failed call asks for (`retryAfterMs`, a `Retry-After` header on it, its
 * response or cause: docs/errors.md; `Infinity`: never); `undefined` when it names none.
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
