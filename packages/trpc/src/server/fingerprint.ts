import { fingerprintInput } from '@resilience/core';
import { TRPCError } from '@trpc/server';

/** Nesting deeper than this has no fingerprint (as core's canonical JSON refuses it). */
const MAX_DEPTH = 512;

/**
 * The input as JSON can say it. A transformer (superjson, devalue) revives values JSON has no
 * form for: a Set, a Map or a RegExp is `{}` to JSON and NaN or Infinity `null`, so two inputs
 * that differ only in one would share a fingerprint, and a BigInt has none; an Error is `{}`
 * too, whatever its message. Each is written as a tagged object instead, and an object met
 * again (superjson's shared references) as `{ $ref }`: written out each time, 40 levels of
 * `[x, x]` in 2 KB would be 2^40 objects. A cycle meets the depth limit. Own keys, sorted, go
 * to an object without a prototype, so a `__proto__` key stays a key.
 */
function jsonable(value: unknown, depth: number, done: Map<object, number>): unknown {
  if (typeof value === 'bigint') return { $bigint: value.toString() };
  if (typeof value === 'number') return Number.isFinite(value) ? value : { $number: String(value) };
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= MAX_DEPTH) throw new TypeError(`nested deeper than ${MAX_DEPTH} levels`);
  const ref = done.get(value);
  if (ref !== undefined) return { $ref: ref };
  const inner = (v: unknown) => jsonable(v, depth + 1, done);
  let out: unknown;
  if (value instanceof Map) out = { $map: [...value].map(([k, v]) => [inner(k), inner(v)]) };
  else if (value instanceof Set) out = { $set: [...value].map(inner) };
  else if (value instanceof RegExp) out = { $regexp: String(value) };
  // superjson revives an Error's name and message, which are not own enumerable keys; its other own keys count too.
  else if (value instanceof Error) out = { $error: [value.name, value.message, inner({ ...value })] };
  else if (Array.isArray(value)) out = value.map(inner);
  else if (typeof (value as { toJSON?: unknown }).toJSON === 'function')
    out = value; // a Date
  else {
    const own: Record<string, unknown> = (out = Object.create(null));
    for (const key of Object.keys(value).sort()) own[key] = inner((value as Record<string, unknown>)[key]);
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
  if (input instanceof FormData)
    return { $form: await Promise.all([...input].map(async ([k, v]) => [k, await contents(v)])) };
  if (!(input instanceof Blob)) return input;
  return {
    $blob: [(input as Partial<File>).name, input.type, await sha256(new Uint8Array(await input.arrayBuffer()))],
  };
}

export const sha256 = async (bytes: Uint8Array): Promise<string> => {
  let hex = '';
  for (const b of new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', bytes)))
    hex += b.toString(16).padStart(2, '0');
  return hex;
};

/**
 * The fingerprint of a call's input to `path`: the SHA-256 (hex) of its canonical JSON, so key
 * order does not matter and a record keeps 64 characters whatever the input's size. An input
 * with none (nested deeper than 512 levels, a cycle) is the caller's `BAD_REQUEST`.
 */
export async function inputFingerprint(path: string, input: unknown): Promise<string> {
  let text: string;
  const body = await contents(input);
  try {
    text = fingerprintInput({ method: 'POST', path, body: jsonable(body, 0, new Map()) });
  } catch (error) {
    throw new TRPCError({
      code: 'BAD_REQUEST',
      message: `The input has no idempotency fingerprint: ${(error as Error).message}`,
      cause: error,
    });
  }
  return sha256(new TextEncoder().encode(text));
}
