// The few pieces of RFC 9651 (Structured Field Values for HTTP) the HTTP helpers need:
// serializing Strings and Integers, and parsing one Item whose value must be a String.

/** A structured-field String: printable ASCII in double quotes, `"` and `\` escaped. */
export function serializeString(value: string): string {
  let out = '"';
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c > 0x7e)
      throw new TypeError(`a structured-field string holds printable ASCII only: ${JSON.stringify(value)}`);
    if (c === 0x22 || c === 0x5c) out += '\\';
    out += value[i];
  }
  return `${out}"`;
}

/** Whether `value` can be a structured-field String. */
export const isSerializableString = (value: string): boolean => /^[\x20-\x7e]*$/.test(value);

/** Why a structured-field String could not be read. */
export type StringParseFailure = 'unquoted' | 'malformed';

export type ItemParse =
  | { readonly ok: true; readonly value: string }
  | { readonly ok: false; readonly reason: StringParseFailure; readonly why: string };

const fail = (reason: StringParseFailure, why: string): ItemParse => ({ ok: false, reason, why });

const KEY_START = /[a-z*]/;
const KEY_CHAR = /[a-z0-9_\-.*]/;
const TOKEN = /^[A-Za-z*][A-Za-z0-9!#$%&'*+\-.^_`|~:/]*/;
// An Integer, a Decimal (12 digits before its point), a Date (`@` and an Integer).
const NUMBER = /^-?\d{1,12}\.\d{1,3}|^@?-?\d{1,15}/;
const BYTES = /^:[A-Za-z0-9+/=]*:|^%"(?:[ !#$&-~]|%[0-9a-f]{2})*"/; // or a Display String

/** The length of the bare item at `input[i..]` for a parameter value, or -1 when there is none. */
function bareItemLength(input: string, i: number): number {
  const rest = input.slice(i);
  if (rest[0] === '"') {
    const parsed = parseString(input, i);
    return parsed.ok ? parsed.end - i : -1;
  }
  if (rest.startsWith('?0') || rest.startsWith('?1')) return 2;
  const match = NUMBER.exec(rest) ?? TOKEN.exec(rest) ?? BYTES.exec(rest);
  return match === null ? -1 : match[0].length;
}

/** Reads a String starting at `input[start]` (a `"`): its value and the index after it. */
function parseString(
  input: string,
  start: number,
): { ok: true; value: string; end: number } | { ok: false; why: string } {
  let value = '';
  for (let i = start + 1; i < input.length; i++) {
    const c = input.charCodeAt(i);
    if (c === 0x5c) {
      const next = input[++i];
      if (next !== '"' && next !== '\\') return { ok: false, why: 'a backslash may only escape " or \\' };
      value += next;
    } else if (c === 0x22) {
      return { ok: true, value, end: i + 1 };
    } else if (c < 0x20 || c > 0x7e) {
      return { ok: false, why: 'only printable ASCII is allowed in a string' };
    } else value += input[i];
  }
  return { ok: false, why: 'the string has no closing quote' };
}

/**
 * Parses a field value that must be one Item whose bare item is a String (RFC 9651 §4.2):
 * surrounding spaces are ignored, parameters after the String are checked and dropped, and
 * anything else (a token, a list, trailing text) fails.
 */
export function parseStringItem(input: string): ItemParse {
  let i = 0;
  while (input[i] === ' ') i++;
  if (input[i] !== '"') return fail('unquoted', 'the value must be a quoted string, e.g. "8e03978e-40d5"');
  const parsed = parseString(input, i);
  if (!parsed.ok) return fail('malformed', parsed.why);
  i = parsed.end;
  while (input[i] === ';') {
    i++;
    while (input[i] === ' ') i++;
    if (!KEY_START.test(input[i] ?? '')) return fail('malformed', 'a parameter needs a lower-case key');
    while (i < input.length && KEY_CHAR.test(input[i]!)) i++;
    if (input[i] === '=') {
      const length = bareItemLength(input, i + 1);
      if (length < 0) return fail('malformed', 'a parameter value is not a structured-field item');
      i += 1 + length;
    }
  }
  while (input[i] === ' ') i++;
  if (i < input.length) return fail('malformed', 'unexpected text after the string (one key only)');
  return { ok: true, value: parsed.value };
}
