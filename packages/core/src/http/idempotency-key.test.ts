import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../errors/errors.js';
import { idempotency } from '../idempotency/index.js';
import { idempotencyKeyParser, idempotencyKeyProblem } from './idempotency-key.js';
import { HTTP_DEFAULTS } from './options.js';
import { PROBLEM_JSON_CONTENT_TYPE, PROBLEM_TYPES } from './problem.js';

const parse = idempotencyKeyParser();
const quote = (s: string) => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;

describe('idempotencyKeyParser', () => {
  it('reads a structured-field string, escapes included', () => {
    expect([HTTP_DEFAULTS.minKeyLength, HTTP_DEFAULTS.maxKeyLength]).toEqual([1, 255]);
    expect(parse('"8e03978e-40d5-43e8-bc93-6894a57f9324"')).toEqual({
      ok: true,
      key: '8e03978e-40d5-43e8-bc93-6894a57f9324',
    });
    expect(parse(' "a\\"b\\\\c" ')).toEqual({ ok: true, key: 'a"b\\c' });
    expect(parse('"k";v=1;note="x";flag')).toEqual({ ok: true, key: 'k' }); // parameters are allowed and ignored
    // RFC 9651's Date and Display String as parameter values, decimals at their bounds
    for (const params of [';d=@1659578233', ';d=@-1', ';n=%"caf%c3%a9"', ';n=%""', ';x=123456789012.125', ';x=-0.5']) {
      expect(parse(`"k"${params}`)).toEqual({ ok: true, key: 'k' });
    }
  });

  it.each([
    [undefined, 'missing'],
    ['', 'missing'],
    [[], 'missing'],
    ['8e03978e-40d5-43e8', 'unquoted'],
    ["'single'", 'unquoted'],
    ['""', 'empty'],
    ['"abc', 'malformed'],
    ['"a\\nb"', 'malformed'],
    ['"a\\', 'malformed'],
    ['"caf\u00e9"', 'malformed'],
    ['"tab\there"', 'malformed'],
    ['"a" "b"', 'malformed'],
    ['"a", "b"', 'malformed'],
    [['"a"', '"b"'], 'malformed'],
    ['"k";=1', 'malformed'],
    ['"k";v=', 'malformed'],
    ['"k";x=1234567890123.5', 'malformed'],
    ['"k";x=1.2345', 'malformed'],
    ['"k";d=@1.5', 'malformed'],
    ['"k";n=%"caf%C3%A9"', 'malformed'],
    ['"k";n=%"a"b"', 'malformed'],
    [`"${'x'.repeat(256)}"`, 'too_long'],
    [`"${'x'.repeat(100_000)}"`, 'too_long'],
  ])('refuses %j as %s', (header, reason) => {
    const result = parse(header as never);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.reason).toBe(reason);
      expect(result.message).toMatch(/Idempotency-Key/);
    }
  });

  it('accepts exactly 255 characters and refuses keys shorter than minKeyLength', () => {
    expect(parse(`"${'x'.repeat(255)}"`)).toMatchObject({ ok: true });
    const strict = idempotencyKeyParser({ minKeyLength: 16 });
    expect(strict('"short"')).toMatchObject({ ok: false, reason: 'too_short' });
    expect(strict('"0123456789abcdef"')).toMatchObject({ ok: true });
    expect(parse(['"only-one"'])).toEqual({ ok: true, key: 'only-one' });
  });

  it('reads back every printable key it is given, quoted', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[ -~]{1,255}$/), (key) => {
        expect(parse(quote(key))).toEqual({ ok: true, key });
      }),
    );
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (header) => {
        expect(typeof parse(header).ok).toBe('boolean');
      }),
    );
  });

  it('rejects invalid options naming each one', () => {
    try {
      idempotencyKeyParser({ minKeyLength: 0, maxKeyLength: 1.5 });
      throw new Error('no error');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).issues.map((i) => i.option)).toEqual(['minKeyLength', 'maxKeyLength']);
    }
    expect(() => idempotencyKeyParser({ minKeyLength: 300 })).toThrow(/minKeyLength/);
  });

  it('admits no key longer than idempotency keeps: a maxKeyLength over 1 024 is refused, not a 500 on each such request', async () => {
    expect(() => idempotencyKeyParser({ maxKeyLength: 1_025 })).toThrow(
      /^Invalid idempotencyKeyParser options: maxKeyLength: received 1025, expected an integer >= 1 <= 1024/,
    );
    // The longest it admits is a key the store takes.
    const key = idempotencyKeyParser({ maxKeyLength: 1_024 })(quote('k'.repeat(1_024)));
    expect(key.ok).toBe(true);
    await expect(idempotency().execute((key as { key: string }).key, () => 'ran')).resolves.toBe('ran');
  });
});

describe('idempotencyKeyProblem', () => {
  it('answers a missing or malformed key with 400 problem+json saying what was wrong', () => {
    const failure = parse('unquoted');
    if (failure.ok) throw new Error('expected a failure');
    expect(idempotencyKeyProblem(failure, { correlationId: 'r1' })).toEqual({
      status: 400,
      headers: { 'content-type': PROBLEM_JSON_CONTENT_TYPE, 'x-request-id': 'r1' },
      body: {
        type: PROBLEM_TYPES.idempotency_key_invalid,
        title: 'Invalid Idempotency-Key',
        status: 400,
        category: 'validation',
        detail: failure.message,
        correlationId: 'r1',
      },
    });
    const missing = parse(undefined);
    if (missing.ok) throw new Error('expected a failure');
    expect(idempotencyKeyProblem(missing).body).toMatchObject({
      type: PROBLEM_TYPES.idempotency_key_missing,
      title: 'Idempotency-Key required',
      status: 400,
    });
  });
});
