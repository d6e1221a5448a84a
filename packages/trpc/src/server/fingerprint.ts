import { fingerprintInput } from '@resilience/core';
import { TRPCError } from '@trpc/server';

/** Nesting deeper than this has no fingerprint (as core's canonical JSON refuses it). */
const MAX_DEPTH = 512;

/** A value already in its fingerprint's form (a form's or a file's digest): written as it is. */
class Written {
  constructor(readonly json: unknown) {}
}

/**
 * The input as JSON can say it, one form for each input: a transformer (superjson, devalue)
 * revives values JSON has no form for or writes as another value (a Date or a URL as its
 * string, a Map or a Set as `{}`, `undefined` as nothing, -0 as 0, NaN as `null`, a BigInt not
 * at all), so each is written as an object tagged `$<type>`, and an own key that begins with
 * `$` gets one more: `{ $map: [] }` sent as an object is not a Map. An object of a class is
 * tagged with its class's name (and its `toJSON()`). An object met again (superjson's shared
 * references) is `{ $ref }`: written out each time, 40 levels of `[x, x]` in 2 KB would be
 * 2^40 objects. A cycle meets the depth limit.
 */
function jsonable(value: unknown, depth: number, done: Map<object, number>): unknown {
  if (typeof value === 'bigint') return { $bigint: String(value) };
  if (typeof value === 'number')
    return Number.isFinite(value) && !Object.is(value, -0)
      ? value
      : { $number: Object.is(value, -0) ? '-0' : String(value) };
  if (value === undefined) return { $undefined: 0 };
  if (typeof value === 'symbol') return { $symbol: String(value.description) };
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Written) return value.json;
  if (depth >= MAX_DEPTH) throw new TypeError(`nested deeper than ${MAX_DEPTH} levels`);
  const ref = done.get(value);
  if (ref !== undefined) return { $ref: ref };
  const inner = (v: unknown) => jsonable(v, depth + 1, done);
  let out: unknown;
  if (value instanceof Map) out = { $map: [...value].map(([k, v]) => [inner(k), inner(v)]) };
  else if (value instanceof Set) out = { $set: [...value].map(inner) };
  else if (value instanceof Date) out = { $date: inner(value.getTime()) };
  else if (value instanceof RegExp) out = { $regexp: String(value) };
  else if (value instanceof URL) out = { $url: value.href };
  else if (value instanceof URLSearchParams) out = { $params: String(value) };
  // superjson revives an Error's name and message, which are not own enumerable keys; its other own keys count too.
  else if (value instanceof Error) out = { $error: [value.name, value.message, inner({ ...value })] };
  else if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
    const bytes = ArrayBuffer.isView(value) ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength) : value;
    out = { $bytes: [value.constructor.name, hex(new Uint8Array(bytes))] };
  } else if (Array.isArray(value)) out = Array.from(value, inner);
  else {
    const own: Record<string, unknown> = Object.create(null);
    for (const key of Object.keys(value).sort())
      own[key[0] === '$' ? `$${key}` : key] = inner((value as Record<string, unknown>)[key]);
    const proto = Object.getPrototypeOf(value);
    const json = (value as { toJSON?: () => unknown }).toJSON;
    out =
      proto === Object.prototype || proto === null
        ? own
        : { $object: [proto?.constructor?.name, own, typeof json === 'function' ? inner(json.call(value)) : 0] };
  }
  // Numbered once done, in canonical order (keys sorted): key order does not matter, an ancestor (a cycle) is not done.
  done.set(value, done.size);
  return out;
}

/**
 * What JSON cannot say of tRPC's non-JSON inputs: a form's entries in order, a file's (a blob's)
 * name, type and bytes' SHA-256. A stream (`octetInputParser`) is not read.
 */
async function contents(input: unknown): Promise<unknown> {
  return input instanceof FormData || input instanceof Blob ? new Written(await formOrFile(input)) : input;
}

async function formOrFile(input: FormData | Blob | string): Promise<unknown> {
  if (typeof input === 'string') return input;
  if (input instanceof FormData)
    return { $form: await Promise.all([...input].map(async ([k, v]) => [k, await formOrFile(v)])) };
  return {
    $blob: [(input as Partial<File>).name, input.type, await sha256(new Uint8Array(await input.arrayBuffer()))],
  };
}

const hex = (bytes: Uint8Array): string => {
  let text = '';
  for (const b of bytes) text += b.toString(16).padStart(2, '0');
  return text;
};

export const sha256 = async (bytes: Uint8Array): Promise<string> =>
  hex(new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', bytes)));

/**
 * The fingerprint of a call's input to `path`: the SHA-256 (hex) of its canonical JSON, so key
 * order does not matter and a record keeps 64 characters whatever the input's size. An input
 * with none (nested deeper than 512 levels, a cycle) is the caller's `BAD_REQUEST`.
 */
export async function inputFingerprint(path: string, input: unknown): Promise<string> {
  let text: string;
  const body = await contents(input);
  try {
    // No input (undefined) is no body, as before: not `{ $undefined }`.
    text = fingerprintInput({ method: 'POST', path, body: body === undefined ? body : jsonable(body, 0, new Map()) });
  } catch (error) {
    throw new TRPCError({
      code: 'BAD_REQUEST',
      message: `The input has no idempotency fingerprint: ${(error as Error).message}`,
      cause: error,
    });
  }
  return sha256(new TextEncoder().encode(text));
}
