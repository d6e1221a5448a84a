import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeSegment, NAMESPACE_END, storeNamespace } from './namespace.js';

// Strings made mostly of the characters the rule encodes, and of what their encodings contain.
const tricky = fc.string({ unit: fc.constantFrom('a', ':', '|', '%', '3', 'A', '7', 'C', '2', '5'), maxLength: 6 });
const segments = fc.array(tricky, { minLength: 1, maxLength: 4 });

describe('storeNamespace', () => {
  it('encodes each segment, joins them with : and closes with |', () => {
    expect(storeNamespace('saga', 'order')).toBe('saga:order|');
    expect(storeNamespace('rl', 'api:v2')).toBe('rl:api%3Av2|');
    expect(storeNamespace('idem', '100%', 'a|b')).toBe('idem:100%25:a%7Cb|');
    expect(encodeSegment('plain-name.1')).toBe('plain-name.1');
  });

  it('rejects no segments or a segment that is not a string', () => {
    expect(() => storeNamespace()).toThrow(TypeError);
    expect(() => storeNamespace('rl', 42 as never)).toThrow(/string segments/);
  });

  it('no namespace is a prefix of another’s keyspace, whatever the segments and keys', () => {
    fc.assert(
      fc.property(segments, segments, tricky, (a, b, key) => {
        const full = storeNamespace(...a) + key;
        if (full.startsWith(storeNamespace(...b))) expect(b).toEqual(a);
      }),
      { numRuns: 5_000 },
    );
  });

  it('a namespace and a key make one store key, and no other pair makes it', () => {
    fc.assert(
      fc.property(segments, tricky, segments, tricky, (a, u, b, v) => {
        if (storeNamespace(...a) + u === storeNamespace(...b) + v) {
          expect(b).toEqual(a);
          expect(v).toBe(u);
        }
      }),
      { numRuns: 5_000 },
    );
  });

  it('puts the only | of a namespace at its end', () => {
    fc.assert(
      fc.property(segments, (s) => {
        const ns = storeNamespace(...s);
        expect(ns.indexOf(NAMESPACE_END)).toBe(ns.length - 1);
      }),
    );
  });
});
