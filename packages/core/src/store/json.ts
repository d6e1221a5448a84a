import type { JsonValue } from './store.js';

/**
 * `value` as a store gives it back: what `JSON.parse(JSON.stringify(value))` makes of it (a
 * `Date` becomes its ISO text, `NaN` and `Infinity` become `null`, `undefined` members
 * go), so every store — the in-process memory store that keeps objects, a JSON one, Redis —
 * returns the same value. Strings, booleans and finite numbers come back as they are without
 * a copy. A value JSON cannot hold at all (a `BigInt`, a cycle) throws a `TypeError` that
 * begins with `what`.
 */
export function jsonForm(value: unknown, what: string): JsonValue | undefined {
  const type = typeof value;
  if (type === 'string' || type === 'boolean' || (type === 'number' && Number.isFinite(value)) || value === null) {
    return value as JsonValue;
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new TypeError(`${what} cannot be recorded: JSON cannot hold it (${(error as Error)?.message ?? error})`, {
      cause: error,
    });
  }
  return text === undefined ? undefined : (JSON.parse(text) as JsonValue);
}
