import { afterEach, describe, expect, it, vi } from 'vitest';
import { boundedJsonForm, jsonForm, utf8BytesOver } from './json.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('boundedJsonForm', () => {
  it('gives the JSON form within the bound, as jsonForm does', () => {
    const value = { at: new Date(Date.UTC(2024, 0, 2)), n: Number.NaN, skipped: undefined };
    expect(boundedJsonForm(value, 'v', 100)).toEqual({ ok: true, json: jsonForm(value, 'v') });
    expect(boundedJsonForm(value, 'v', 100)).toEqual({ ok: true, json: { at: '2024-01-02T00:00:00.000Z', n: null } });
    expect(boundedJsonForm(undefined, 'v', 0)).toEqual({ ok: true, json: undefined });
  });

  it('gives the UTF-8 bytes of the JSON text when over the bound', () => {
    expect(boundedJsonForm({ a: 'é' }, 'v', 9)).toEqual({ ok: false, bytes: 10 }); // {"a":"é"}
    expect(boundedJsonForm({ a: 'é' }, 'v', 10)).toEqual({ ok: true, json: { a: 'é' } });
    expect(boundedJsonForm(12_345, 'v', 4)).toEqual({ ok: false, bytes: 5 });
    expect(boundedJsonForm(true, 'v', 4)).toEqual({ ok: true, json: true });
    expect(boundedJsonForm(null, 'v', 3)).toEqual({ ok: false, bytes: 4 });
  });

  it('counts a lone surrogate as the escape JSON writes for it (6 bytes), not 3', () => {
    expect(boundedJsonForm('\uD800', 'v', 8)).toEqual({ ok: true, json: '\uD800' }); // "\ud800"
    expect(boundedJsonForm('\uD800a', 'v', 8)).toEqual({ ok: false, bytes: 9 });
  });

  it('reads a short string without writing its JSON, and keeps it without a copy', () => {
    const text = 'a'.repeat(100);
    const stringify = vi.spyOn(JSON, 'stringify');
    // 100 units are at most 602 bytes of JSON.
    const short = boundedJsonForm(text, 'v', 602);
    const unwritten = stringify.mock.calls.length;
    const long = boundedJsonForm(text, 'v', 601);
    const written = stringify.mock.calls.length;
    stringify.mockRestore();
    expect([short, unwritten, long, written]).toEqual([{ ok: true, json: text }, 0, { ok: true, json: text }, 1]);
  });

  it('throws a TypeError beginning with what for a value JSON cannot hold', () => {
    expect(() => boundedJsonForm({ n: 1n }, 'the value', 100)).toThrow(/^the value cannot be recorded.*BigInt/);
  });
});

describe('utf8BytesOver', () => {
  it('counts nothing when the length alone shows the text is within the bound (3 bytes a unit at most)', () => {
    const charCodeAt = vi.spyOn(String.prototype, 'charCodeAt');
    const within = utf8BytesOver('€€€€', 12);
    const uncounted = charCodeAt.mock.calls.length;
    const over = utf8BytesOver('€€€€', 11);
    const counted = charCodeAt.mock.calls.length;
    charCodeAt.mockRestore();
    expect([within, uncounted, over, counted]).toEqual([undefined, 0, 12, 4]);
  });

  it('counts 1 to 4 bytes a character, and tells over from at', () => {
    expect(utf8BytesOver('a'.repeat(10), 9)).toBe(10);
    expect(utf8BytesOver('é'.repeat(10), 19)).toBe(20);
    expect(utf8BytesOver('é'.repeat(10), 20)).toBeUndefined();
    expect(utf8BytesOver('€'.repeat(10), 29)).toBe(30);
    expect(utf8BytesOver('😀'.repeat(10), 39)).toBe(40);
    expect(utf8BytesOver('😀'.repeat(10), 40)).toBeUndefined();
    // 14 units, 40 bytes: a fast path that took 2 bytes a unit would call it within 39.
    expect(utf8BytesOver(`${'€'.repeat(13)}a`, 39)).toBe(40);
  });
});
