/** Nesting deeper than this is refused (a request body that deep is an attack, not data). */
const MAX_DEPTH = 512;

function write(value: unknown, depth: number, path: Set<object>): string | undefined {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON(): unknown }).toJSON();
  }
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : value > 0 ? '1e999' : value < 0 ? '-1e999' : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      throw new TypeError('canonicalJson: a BigInt has no JSON form');
    case 'object':
      break;
    default:
      return undefined; // undefined, functions and symbols, as JSON.stringify leaves them out
  }
  if (value === null) return 'null';
  if (depth >= MAX_DEPTH) {
    // A request body that deep is the client's doing: answered 400, not as a server bug.
    throw Object.assign(new TypeError(`canonicalJson: nested deeper than ${MAX_DEPTH} levels`), { status: 400 });
  }
  if (path.has(value)) throw new TypeError('canonicalJson: the value holds a cycle');
  path.add(value);
  let out: string;
  if (Array.isArray(value)) {
    out = `[${value.map((v) => write(v, depth + 1, path) ?? 'null').join(',')}]`;
  } else {
    const parts: string[] = [];
    for (const key of Object.keys(value).sort()) {
      const v = write((value as Record<string, unknown>)[key], depth + 1, path);
      if (v !== undefined) parts.push(`${JSON.stringify(key)}:${v}`);
    }
    out = `{${parts.join(',')}}`;
  }
  path.delete(value);
  return out;
}

/**
 * JSON with every object's keys sorted at every depth, so two bodies that differ only in key
 * order give the same text; an infinity is `1e999`, not `null`. Throws `TypeError` for a cycle,
 * a BigInt, or nesting over 512 levels (with `status: 400`). See docs/http.md.
 */
export function canonicalJson(value: unknown): string {
  return write(value, 0, new Set()) ?? 'null';
}

/** A request, as its fingerprint sees it. */
export interface FingerprintRequest {
  /** `POST`, `PATCH` ... (upper-cased here). */
  readonly method: string;
  /** The path with its query string, as the client sent it (`req.originalUrl`, `ctx.url`). */
  readonly path: string;
  /** The parsed JSON body, when the body is JSON. */
  readonly body?: unknown;
  /** A digest of the raw bytes of a body that is not JSON (hash it with `node:crypto`). */
  readonly rawBodyDigest?: string;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * The text an idempotency fingerprint is the hash of (method, path, the body as canonical JSON
 * or a digest); hash it and pass the digest as `fingerprint`. Throws `TypeError` for a bad
 * method or path, or both kinds of body. See docs/http.md.
 */
export function fingerprintInput(request: FingerprintRequest): string {
  const { method, path, body, rawBodyDigest } = request ?? ({} as FingerprintRequest);
  if (typeof method !== 'string' || !TOKEN.test(method)) {
    throw new TypeError(`fingerprintInput: method: expected an HTTP method, received ${JSON.stringify(method)}`);
  }
  if (typeof path !== 'string' || /\p{Cc}/u.test(path)) {
    throw new TypeError('fingerprintInput: path: expected a string without control characters');
  }
  if (body !== undefined && rawBodyDigest !== undefined) {
    throw new TypeError('fingerprintInput: give body or rawBodyDigest, not both');
  }
  const head = `${method.toUpperCase()} ${path}\n`;
  if (rawBodyDigest !== undefined) return `${head}raw:${String(rawBodyDigest)}`;
  return body === undefined ? head : `${head}json:${canonicalJson(body)}`;
}
