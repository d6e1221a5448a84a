import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { httpErrorStatus } from './error-response.js';
import { canonicalJson, fingerprintInput } from './fingerprint.js';

/** The same JSON value with every object's keys in a shuffled order. */
const shuffled = (value: unknown, seed: number): unknown => {
  if (Array.isArray(value)) return value.map((v, i) => shuffled(v, seed + i));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  entries.sort(([a], [b]) => ((a.length * 31 + seed) % 7) - ((b.length * 31 + seed) % 7) || (seed % 2 ? 1 : -1));
  return Object.fromEntries(entries.map(([k, v]) => [k, shuffled(v, seed + 1)]));
};

describe('canonicalJson', () => {
  it('sorts object keys at every depth and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}',
    );
    expect(canonicalJson([2, 1])).not.toBe(canonicalJson([1, 2]));
  });

  it('writes values as JSON.stringify does', () => {
    expect(canonicalJson({ u: undefined, f: () => 1, n: Number.NaN, d: new Date(0), s: 'é"\n' })).toBe(
      '{"d":"1970-01-01T00:00:00.000Z","n":null,"s":"é\\"\\n"}',
    );
    expect(canonicalJson([undefined, Number.NaN])).toBe('[null,null]');
  });

  it('writes an infinity (JSON.parse reads 1e400 as one) as JSON that parses back to it, not as null', () => {
    const bodies = ['{"amount":1e400}', '{"amount":-1e400}', '{"amount":null}'].map((b) =>
      canonicalJson(JSON.parse(b)),
    );
    expect(bodies).toEqual(['{"amount":1e999}', '{"amount":-1e999}', '{"amount":null}']);
    expect(JSON.parse(bodies[1]!)).toEqual({ amount: Number.NEGATIVE_INFINITY });
    expect(canonicalJson('x')).toBe('"x"');
  });

  it('does not depend on key order, and parses back to the same value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer(), (value, seed) => {
        const text = canonicalJson(value);
        expect(canonicalJson(shuffled(value, seed))).toBe(text);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
  });

  it('refuses cycles, BigInt and nesting past 512 levels with a TypeError', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => canonicalJson(cycle)).toThrow(/cycle/);
    expect(() => canonicalJson({ n: 1n })).toThrow(TypeError);
    let deep: unknown = 1;
    for (let i = 0; i < 600; i++) deep = [deep];
    expect(() => canonicalJson(deep)).toThrow(/512/);
    // A request body that deep is the client's doing: its error answers 400, not a 500.
    const tooDeep = (() => {
      try {
        fingerprintInput({ method: 'POST', path: '/orders', body: deep });
      } catch (error) {
        return error;
      }
    })();
    expect(httpErrorStatus(tooDeep).status).toBe(400);
    const repeated = { x: 1 };
    expect(canonicalJson({ a: repeated, b: repeated })).toBe('{"a":{"x":1},"b":{"x":1}}'); // shared, not a cycle
  });
});

describe('fingerprintInput', () => {
  it('joins the method, the path and the canonical body, so key order does not change it', () => {
    expect(fingerprintInput({ method: 'post', path: '/orders?x=1', body: { b: 2, a: 1 } })).toBe(
      'POST /orders?x=1\njson:{"a":1,"b":2}',
    );
    expect(fingerprintInput({ method: 'POST', path: '/orders?x=1', body: { a: 1, b: 2 } })).toBe(
      fingerprintInput({ method: 'post', path: '/orders?x=1', body: { b: 2, a: 1 } }),
    );
    expect(fingerprintInput({ method: 'PATCH', path: '/a' })).toBe('PATCH /a\n');
    expect(fingerprintInput({ method: 'POST', path: '/a', rawBodyDigest: 'sha256:abc' })).toBe(
      'POST /a\nraw:sha256:abc',
    );
  });

  it('keeps a JSON body apart from a raw one and from another path', () => {
    const json = fingerprintInput({ method: 'POST', path: '/a', body: 'sha256:abc' });
    const raw = fingerprintInput({ method: 'POST', path: '/a', rawBodyDigest: 'sha256:abc' });
    expect(json).not.toBe(raw);
    expect(fingerprintInput({ method: 'POST', path: '/b', body: 1 })).not.toBe(
      fingerprintInput({ method: 'POST', path: '/a', body: 1 }),
    );
  });

  it('rejects a missing method or path, or both kinds of body, with a TypeError', () => {
    expect(() => fingerprintInput({ method: '', path: '/a' })).toThrow(/method/);
    expect(() => fingerprintInput({ method: 'GET', path: 1 as never })).toThrow(/path/);
    // A line break could make one request's path read as another's body.
    expect(() => fingerprintInput({ method: 'POST', path: '/a\njson:1' })).toThrow(/path/);
    expect(() => fingerprintInput({ method: 'PO ST', path: '/a' })).toThrow(/method/);
    expect(() => fingerprintInput({ method: 'POST', path: '/a', body: {}, rawBodyDigest: 'x' })).toThrow(
      /body or rawBodyDigest/,
    );
  });
});
