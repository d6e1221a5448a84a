import { RequestBodyError } from './errors.js';

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)/i;

/** JSON's whitespace (RFC 8259 §2), then the `{` or `[` an object or an array begins with. */
const OBJECT_OR_ARRAY = /^[ \t\n\r]*[{[]/;

/**
 * Parses a body as the usual parser for its `Content-Type` would (body-parser's `json`,
 * `urlencoded` with `extended: false`, `text` and `raw`; `@koa/bodyparser` alike); without a
 * `Content-Type` no parser would, so neither does this. `jsonStrict` (their default) refuses
 * JSON that is not an object or an array, as they do: a handler behind one of them never sees
 * a top-level `null`, number, string or boolean. JSON with a `"__proto__"` key is refused, as
 * `@koa/bodyparser` refuses it.
 */
export function parseBody(raw: Buffer, contentType: string | undefined, jsonStrict = true): unknown {
  if (contentType === undefined) return undefined;
  const type = mediaType(contentType);
  const charset = CHARSET.exec(contentType)?.[1];
  // The charsets body-parser's json (RFC 8259: UTF-8, once UTF-16/32 too) and urlencoded read; others are a 415 there.
  if (isJsonType(type)) return parseJson(raw, allowed(charset, /^utf(-|8$)/i), jsonStrict);
  if (type === 'application/x-www-form-urlencoded') {
    const text = decode(raw, allowed(charset, /^(utf-?8|iso-8859-1)$/i));
    // A Latin-1 form's escapes (`caf%E9`) as URLSearchParams, which reads them as UTF-8, reads `é`.
    return parseForm(
      charset?.toLowerCase() === 'iso-8859-1'
        ? text.replace(/%[89a-f][\da-f]/gi, (e) =>
            encodeURIComponent(String.fromCharCode(Number.parseInt(e.slice(1), 16))),
          )
        : text,
    );
  }
  if (type.startsWith('text/')) return decode(raw, charset);
  return raw;
}

/** The charset a `Content-Type` names, lower-case, UTF-8 by default (`utf8` too): a fingerprint's. */
export const charsetOf = (contentType: string | undefined): string =>
  (CHARSET.exec(contentType ?? '')?.[1] ?? 'utf-8').toLowerCase().replace(/^utf8$/, 'utf-8');

const allowed = (charset: string | undefined, ok: RegExp): string | undefined => {
  if (charset === undefined || ok.test(charset)) return charset;
  throw new RequestBodyError('unsupported_media_type', `Unsupported charset "${charset}"`);
};

/** A `Content-Type`'s media type, lower-case, without its parameters; `''` without one. */
export function mediaType(contentType: string | undefined): string {
  if (contentType === undefined) return '';
  const end = contentType.indexOf(';');
  return (end === -1 ? contentType : contentType.slice(0, end)).trim().toLowerCase();
}

/** Whether a media type (see {@link mediaType}) is JSON: `application/json` or any `+json`. */
export const isJsonType = (type: string): boolean => type === 'application/json' || type.endsWith('+json');

const noProto = (key: string, value: unknown): unknown => {
  if (key === '__proto__') throw new SyntaxError('__proto__');
  return value;
};

function parseJson(raw: Buffer, charset: string | undefined, strict: boolean): unknown {
  if (raw.length === 0) return {};
  const text = decode(raw, charset);
  if (strict && !OBJECT_OR_ARRAY.test(text)) {
    throw new RequestBodyError('body_invalid', 'The request body is not a JSON object or array');
  }
  try {
    // A `__proto__` key (written as it is, or with a letter \u-escaped: \u005f, \u0070 …):
    // @koa/bodyparser refuses it (a 400), as `Object.assign({}, body)` would make its value the
    // copy's prototype. Other text (non-ASCII escaped as \u00e9, say) parses without a reviver.
    return JSON.parse(text, /__proto__|\\u00[5-7]/.test(text) ? noProto : undefined);
  } catch (error) {
    throw new RequestBodyError('body_invalid', 'The request body is not valid JSON', { cause: error });
  }
}

function parseForm(text: string): Record<string, string | string[]> {
  const form: Record<string, string | string[]> = Object.create(null);
  for (const [name, value] of new URLSearchParams(text)) {
    const before = form[name];
    if (before === undefined) form[name] = value;
    else if (Array.isArray(before)) before.push(value);
    else form[name] = [before, value];
  }
  return form;
}

/** The body as text in its charset (UTF-8 by default), without a byte-order mark. */
function decode(raw: Buffer, charset: string | undefined): string {
  if (charset === undefined || /^utf-?8$/i.test(charset)) {
    const text = raw.toString('utf8');
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  }
  try {
    return new TextDecoder(charset).decode(raw);
  } catch (error) {
    throw new RequestBodyError('unsupported_media_type', `Unsupported charset "${charset}"`, { cause: error });
  }
}
