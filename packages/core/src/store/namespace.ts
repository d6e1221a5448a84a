/**
 * The one namespacing rule of store keys, used by every consumer of a store (rate
 * limiters and groups, idempotency, sagas, message processors, shared breakers).
 *
 * A store key is `{` + namespace + key + `}`, built by {@link storeKey}. The namespace is a
 * list of segments — the consumer's kind first (`rl`, `idem`, `saga`, `msg`, `breaker`),
 * then the names that tell its instances apart — each segment encoded (`%`, `:`, `|`, `{`
 * and `}` percent-encoded), joined by `:` and closed by `|`; {@link storeNamespace} returns
 * it with the opening brace: `storeNamespace('saga', 'order')` is `{saga:order|`, and the
 * log of run 17 is `{saga:order|17}`. The key after the namespace is the caller's own,
 * unencoded.
 *
 * Why no namespace can see another's keys: an encoded segment holds no `|`, so the first
 * `|` of a store key closes its namespace, and everything between the `{` and it is the
 * namespace's segments split at `:` (no encoded segment holds a `:` either). Two keys that
 * start with the same namespace prefix therefore have the same segments, in the same
 * order, and belong to the same namespace: no namespace is a prefix of another's keyspace
 * (`order` of `order:v2`, `a` with key `b:x` of `a:b` with key `x`), and
 * `keys(namespace)` lists that namespace's keys only. The caller's key need not be encoded
 * because it comes after the first `|`, whatever it holds.
 *
 * Why the braces: they are a Redis Cluster hash tag. Redis hashes only the text between
 * the first `{` and the first `}` after it, and a namespace holds no `}`, so a store key
 * and every key made by appending to it (several limits on one key: `{rl:api|u}|0.gcra`)
 * land in one slot, and one script may update them together.
 */

/** Closes a namespace: the first `|` of a store key ends its namespace. */
export const NAMESPACE_END = '|';
/** Opens a store key (and its hash tag): every namespace starts with it. */
export const KEY_OPEN = '{';
/** Closes a store key's hash tag, after the caller's key. */
export const KEY_CLOSE = '}';

const SPECIAL = /[%:|{}]/g;
const ENCODED: Record<string, string> = { '%': '%25', ':': '%3A', '|': '%7C', '{': '%7B', '}': '%7D' };
const percentEncode = (c: string): string => ENCODED[c]!;

/** One segment with `%`, `:`, `|`, `{` and `}` percent-encoded; other characters unchanged. */
export function encodeSegment(segment: string): string {
  return segment.replace(SPECIAL, percentEncode);
}

/**
 * The key prefix of a namespace, built once; keys come from {@link storeKey}.
 * @example storeNamespace('rl', 'api'); // '{rl:api|'
 */
export function storeNamespace(...segments: readonly string[]): string {
  if (segments.length === 0 || !segments.every((s) => typeof s === 'string')) {
    throw new TypeError('storeNamespace: expected one or more string segments');
  }
  return KEY_OPEN + segments.map(encodeSegment).join(':') + NAMESPACE_END;
}

/**
 * The store key of `key` in `namespace` (from {@link storeNamespace}).
 *
 * @example
 * storeKey(storeNamespace('shop', 'carts'), 'c-1'); // '{shop:carts|c-1}'
 */
export function storeKey(namespace: string, key: string): string {
  return namespace + key + KEY_CLOSE;
}
