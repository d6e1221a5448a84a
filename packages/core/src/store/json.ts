import type { JsonValue } from './store.js';

/** A string, boolean, finite number or `null`: JSON as it is. */
const isPlainJson = (value: unknown): value is JsonValue => {
  const type = typeof value;
  return type === 'string' || type === 'boolean' || (type === 'number' && Number.isFinite(value)) || value === null;
};

/** `JSON.stringify(value)`, or a `TypeError` beginning with `what` for a value JSON cannot hold. */
function jsonText(value: unknown, what: string): string | undefined {
  try {
    return JSON.stringify(value);
  } catch (error) {
    throw new TypeError(`${what} cannot be recorded: JSON cannot hold it (${(error as Error)?.message ?? error})`, {
      cause: error,
    });
  }
}

/**
 * `value` as a store gives it back: what `JSON.parse(JSON.stringify(value))` makes of it (a
 * `Date` becomes its ISO text, `NaN` and `Infinity` become `null`, `undefined` members
 * go), so every store — the in-process memory store that keeps objects, a JSON one, Redis —
 * returns the same value. Strings, booleans and finite numbers come back as they are without
 * a copy. A value JSON cannot hold at all (a `BigInt`, a cycle) throws a `TypeError` that
 * begins with `what`.
 */
export function jsonForm(value: unknown, what: string): JsonValue | undefined {
  if (isPlainJson(value)) return value;
  const text = jsonText(value, what);
  return text === undefined ? undefined : (JSON.parse(text) as JsonValue);
}

/** What {@link boundedJsonForm} makes of a value: its JSON form, or how many bytes its JSON is, over the bound. */
export type BoundedJsonForm =
  | { readonly ok: true; readonly json: JsonValue | undefined }
  | { readonly ok: false; readonly bytes: number };

/**
 * {@link jsonForm} of `value` when its JSON text is at most `maxBytes` bytes in UTF-8 (what a
 * networked store writes; `Infinity` for no bound), else the bytes it is. One `JSON.stringify`,
 * as `jsonForm` makes: a string, boolean or number only needs its text when it could be over.
 */
export function boundedJsonForm(value: unknown, what: string, maxBytes: number): BoundedJsonForm {
  // A UTF-16 unit is at most 6 bytes of JSON (`\u001f`, a lone surrogate `\ud800`): add the quotes.
  if (typeof value === 'string' && value.length * 6 + 2 <= maxBytes) return { ok: true, json: value };
  const plain = isPlainJson(value);
  const text = plain && typeof value !== 'string' ? String(value) : jsonText(value, what);
  if (text === undefined) return { ok: true, json: undefined };
  const bytes = utf8BytesOver(text, maxBytes);
  if (bytes !== undefined) return { ok: false, bytes };
  return { ok: true, json: plain ? value : (JSON.parse(text) as JsonValue) };
}

/**
 * The UTF-8 bytes of JSON `text` when they are over `maxBytes`, else `undefined`. Counted only
 * when its length cannot tell (a UTF-16 unit is at most 3 bytes). JSON text holds no lone
 * surrogate (`JSON.stringify` escapes one), so a high surrogate starts a 4-byte pair.
 */
export function utf8BytesOver(text: string, maxBytes: number): number | undefined {
  if (text.length * 3 <= maxBytes) return undefined;
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    bytes += c < 0x800 ? 1 : 2; // 2 or 3 bytes for one unit, or 4 for a pair (1 + 2 here, 1 for the low unit)
    if (c >= 0xd800 && c <= 0xdbff) i++;
  }
  return bytes > maxBytes ? bytes : undefined;
}
