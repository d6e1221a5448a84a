// The idempotency fingerprint of a mutation's input: one per input a transformer can carry.
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { inputFingerprint } from './fingerprint.js';

const fingerprint = (input: unknown) => inputFingerprint('order', input);

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

const shared = {};

/** Inputs that differ, which JSON (or a tag JSON could spell) writes alike. */
const DIFFERENT: [string, unknown, unknown][] = [
  ['a Date and its ISO string', new Date(0), '1970-01-01T00:00:00.000Z'],
  ['an invalid Date and null', new Date(Number.NaN), null],
  ['a Map and an object spelling one', new Map([['a', 1]]), { $map: [['a', 1]] }],
  ['a Set and an object spelling one', new Set(['a']), { $set: ['a'] }],
  ['a key set to undefined and a missing key', { a: undefined }, {}],
  ['undefined and null in an array', [undefined], [null]],
  ['a BigInt and an object spelling one', 1n, { $bigint: '1' }],
  ['NaN and an object spelling it', Number.NaN, { $number: 'NaN' }],
  ['-0 and 0', -0, 0],
  ['a URL and its text', new URL('https://shop.example/a'), 'https://shop.example/a'],
  ['query parameters and {}', new URLSearchParams('a=1'), {}],
  ['two query parameters', new URLSearchParams('a=1'), new URLSearchParams('a=2')],
  ['bytes and an object of their indices', new Uint8Array([1, 2]), { 0: 1, 1: 2 }],
  ['bytes of two types', new Uint8Array([1]), new Int8Array([1])],
  ['two buffers', new Uint8Array([1]).buffer, new Uint8Array([2]).buffer],
  ['a class instance and a plain object', new Point(1, 2), { x: 1, y: 2 }],
  ['an object met twice and one spelling a reference', [shared, shared], [{}, { $ref: 0 }]],
  ['an Error and an object spelling one', new Error('lost'), { $error: ['Error', 'lost', {}] }],
];

describe('inputFingerprint', () => {
  it.each(DIFFERENT)('tells apart %s', async (_, a, b) => {
    expect(await fingerprint(a)).not.toBe(await fingerprint(b));
  });

  it('gives the same input the same fingerprint, whatever its key order and however often it is revived', async () => {
    const input = () => ({
      b: new Map([[1n, new Date(5)]]),
      a: [undefined, -0, new Set(['x'])],
      $c: new URL('https://a.example'),
    });
    const reordered = {
      $c: new URL('https://a.example'),
      a: [undefined, -0, new Set(['x'])],
      b: new Map([[1n, new Date(5)]]),
    };
    expect(await fingerprint(input())).toBe(await fingerprint(input()));
    expect(await fingerprint(input())).toBe(await fingerprint(reordered));
    expect(await fingerprint(undefined)).not.toBe(await fingerprint(null));
  });

  it('is the same for a value and its structured clone, and differs between values that are not deeply equal', async () => {
    const value = fc.anything({
      withBigInt: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withTypedArray: true,
      withObjectString: true,
      maxDepth: 3,
      key: fc.oneof(fc.string({ maxLength: 3 }), fc.constantFrom('$map', '$ref', '$undefined', '$$map')),
    });
    await fc.assert(
      fc.asyncProperty(value, value, async (a, b) => {
        expect(await fingerprint(structuredClone(a))).toBe(await fingerprint(a));
        if ((await fingerprint(a)) === (await fingerprint(b))) expect(isDeepStrictEqual(a, b)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
