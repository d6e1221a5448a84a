import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeSegment, NAMESPACE_END, storeKey, storeNamespace } from './namespace.js';

// Strings made mostly of the characters the rule encodes, and of what their encodings contain.
const tricky = fc.string({
  unit: fc.constantFrom('a', ':', '|', '%', '{', '}', '3', 'A', '7', 'B', 'C', 'D', '2', '5'),
  maxLength: 6,
});
const segments = fc.array(tricky, { minLength: 1, maxLength: 4 });

/** Redis Cluster's rule: the text between the first `{` and the first `}` after it, when not empty; else the whole key. */
function hashTag(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  return close < 0 || close === open + 1 ? key : key.slice(open + 1, close);
}

describe('storeNamespace', () => {
  it('opens a hash tag, encodes each segment, joins them with : and closes with |', () => {
    expect(storeNamespace('saga', 'order')).toBe('{saga:order|');
    expect(storeNamespace('rl', 'api:v2')).toBe('{rl:api%3Av2|');
    expect(storeNamespace('idem', '100%', 'a|b')).toBe('{idem:100%25:a%7Cb|');
    expect(storeNamespace('x', '{a}')).toBe('{x:%7Ba%7D|');
    expect(encodeSegment('plain-name.1')).toBe('plain-name.1');
  });

  it('storeKey closes the hash tag after the caller’s key', () => {
    expect(storeKey(storeNamespace('rl', 'api'), 'user-42')).toBe('{rl:api|user-42}');
  });

  it('rejects no segments or a segment that is not a string', () => {
    expect(() => storeNamespace()).toThrow(TypeError);
    expect(() => storeNamespace('rl', 42 as never)).toThrow(/string segments/);
  });

  it('no namespace is a prefix of another’s keyspace, whatever the segments and keys', () => {
    fc.assert(
      fc.property(segments, segments, tricky, (a, b, key) => {
        const full = storeKey(storeNamespace(...a), key);
        if (full.startsWith(storeNamespace(...b))) expect(b).toEqual(a);
      }),
      { numRuns: 5_000 },
    );
  });

  it('a namespace and a key make one store key, and no other pair makes it', () => {
    fc.assert(
      fc.property(segments, tricky, segments, tricky, (a, u, b, v) => {
        if (storeKey(storeNamespace(...a), u) === storeKey(storeNamespace(...b), v)) {
          expect(b).toEqual(a);
          expect(v).toBe(u);
        }
      }),
      { numRuns: 5_000 },
    );
  });

  it('puts the only | of a namespace at its end and its only { at its start', () => {
    fc.assert(
      fc.property(segments, (s) => {
        const ns = storeNamespace(...s);
        expect(ns.indexOf(NAMESPACE_END)).toBe(ns.length - 1);
        expect(ns.lastIndexOf('{')).toBe(0);
        expect(ns).not.toContain('}');
      }),
    );
  });

  it('a key and every key suffixed after it share one Redis hash tag holding the namespace (one Cluster slot)', () => {
    fc.assert(
      fc.property(segments, tricky, tricky, (s, key, suffix) => {
        const ns = storeNamespace(...s);
        const full = storeKey(ns, key);
        const tag = hashTag(full);
        expect(`{${tag}`.startsWith(ns)).toBe(true);
        expect(hashTag(full + suffix)).toBe(tag);
        if (!key.includes('}')) expect(tag).toBe(ns.slice(1) + key);
      }),
      { numRuns: 5_000 },
    );
  });
});
