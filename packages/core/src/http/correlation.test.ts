import { describe, expect, it } from 'vitest';
import { sequenceRandom } from '../clock/sequence-random.js';
import { ConfigurationError } from '../errors/errors.js';
import { correlationIds } from './correlation.js';
import { HTTP_DEFAULTS } from './options.js';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('correlationIds', () => {
  it('takes a valid X-Request-Id first, then the trace id of a traceparent', () => {
    expect(HTTP_DEFAULTS.correlationIdMaxLength).toBe(128);
    const id = correlationIds();
    expect(id({ requestId: 'req-7f3a_b.c:d/e+f=g@h~i', traceparent: TRACEPARENT })).toBe('req-7f3a_b.c:d/e+f=g@h~i');
    expect(id({ traceparent: TRACEPARENT })).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(id({ requestId: ['first', 'second'] })).toBe('first');
    // A future traceparent version may carry more fields after the flags.
    expect(id({ traceparent: `01-${TRACEPARENT.slice(3)}-more` })).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });

  it('ignores request ids that are too long or could forge log lines or headers, and malformed traceparents', () => {
    const id = correlationIds({ random: sequenceRandom(0.5) });
    const generated = id({});
    for (const requestId of ['', 'x'.repeat(129), 'a b', 'a\nb', 'a"b', '<script>', 'é']) {
      expect(id({ requestId, traceparent: 'garbage' })).toBe(generated);
    }
    for (const traceparent of [
      `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`, // an all-zero trace id is invalid
      `00-4bf92f3577b34da6a3ce929d0e0e4736-${'0'.repeat(16)}-01`,
      `ff-${TRACEPARENT.slice(3)}`, // version ff is forbidden
      `00-${TRACEPARENT.slice(3)}-extra`, // version 00 has exactly four fields
      TRACEPARENT.toUpperCase(),
    ]) {
      expect(id({ traceparent })).toBe(generated);
    }
    expect(correlationIds({ maxLength: 200 })({ requestId: 'x'.repeat(129) })).toBe('x'.repeat(129));
  });

  it('generates a UUID v4 from the injected random source otherwise', () => {
    const id = correlationIds({ random: sequenceRandom(0, 0.999999) });
    const uuid = id({});
    expect(uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(id({})).toBe(uuid); // the same random draws, the same id
    expect(correlationIds()({})).not.toBe(correlationIds()({}));
  });

  it('rejects invalid options naming each one', () => {
    try {
      correlationIds({ random: 1 as never, maxLength: 0 });
      throw new Error('no error');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).issues.map((i) => i.option)).toEqual(['random', 'maxLength']);
    }
  });
});
