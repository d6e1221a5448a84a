import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { ConfigurationError, TimeoutError } from '../errors/errors.js';
import { RECENT_ERRORS_DEFAULTS } from './options.js';
import { recentErrors } from './recent-errors.js';

describe('recentErrors', () => {
  it('keeps 100 errors by default', () => {
    expect(RECENT_ERRORS_DEFAULTS).toEqual({ max: 100, maxMessageLength: 500 });
    expect(recentErrors().max).toBe(100);
  });

  it('records each error classified, with its time, correlation id, route and status, newest first', async () => {
    const clock = new FakeClock(1_000);
    const errors = recentErrors({ clock });
    errors.record(new TimeoutError(50), { correlationId: 'req-1', route: 'GET /orders/:id', status: 504 });
    await clock.advance(5);
    errors.record(Object.assign(new Error('connection reset'), { code: 'ECONNRESET' }));
    expect(errors.list()).toEqual([
      { at: 1_005, category: 'network', name: 'Error', message: 'connection reset', code: 'ECONNRESET' },
      {
        at: 1_000,
        category: 'timeout',
        name: 'TimeoutError',
        message: 'Operation timed out after 50 ms',
        code: 'timeout',
        correlationId: 'req-1',
        route: 'GET /orders/:id',
        status: 504,
      },
    ]);
    expect(errors.size).toBe(2);
  });

  it('holds at most max errors, dropping the oldest', () => {
    const errors = recentErrors({ max: 3, clock: new FakeClock() });
    for (let i = 1; i <= 5; i++) errors.record(new Error(`e${i}`));
    expect(errors.list().map((e) => e.message)).toEqual(['e5', 'e4', 'e3']);
    expect(errors.size).toBe(3);
    errors.clear();
    expect([errors.list(), errors.size]).toEqual([[], 0]);
    errors.record('a string');
    expect(errors.list()).toMatchObject([{ name: 'Error', message: 'a string', category: 'unknown' }]);
  });

  it('bounds what an error may make it keep: long messages and routes are cut', () => {
    const errors = recentErrors({ max: 1, maxMessageLength: 10, clock: new FakeClock() });
    errors.record(new Error('x'.repeat(1_000)), { route: `/${'r'.repeat(1_000)}`, correlationId: 'c'.repeat(1_000) });
    const [entry] = errors.list();
    expect(entry?.message).toBe(`${'x'.repeat(10)}…`);
    expect(entry?.route).toHaveLength(201);
    expect(entry?.correlationId).toHaveLength(201);
  });

  it('cuts a message, a route and a code between characters, never inside an emoji', () => {
    const errors = recentErrors({ max: 1, maxMessageLength: 10, clock: new FakeClock() });
    const code = `${'c'.repeat(199)}😀`;
    errors.record(Object.assign(new Error(`${'x'.repeat(9)}😀`), { code }), { route: `/${'r'.repeat(198)}😀` });
    const [entry] = errors.list();
    expect([entry?.message, entry?.code, entry?.route]).toEqual([
      `${'x'.repeat(9)}…`,
      `${'c'.repeat(199)}…`,
      `/${'r'.repeat(198)}…`,
    ]);
  });

  it("hides a URL's credentials, query and fragment in a message (fetch quotes a URL it refuses whole)", () => {
    const errors = recentErrors({ clock: new FakeClock() });
    const refused =
      'Request cannot be constructed from a URL that includes credentials: https://user:p@ss@db-7:5432/x?token=abc#top';
    errors.record(new TypeError(refused));
    errors.record(new Error('GET https://ghp_secret@api.example/repos failed; see http://docs.example/errors'));
    expect(errors.list().map((e) => e.message)).toEqual([
      'GET https://…@api.example/repos failed; see http://docs.example/errors',
      'Request cannot be constructed from a URL that includes credentials: https://…@db-7:5432/x?…#…',
    ]);
    // An OAuth implicit flow's token travels in the fragment.
    errors.record(new Error('redirect to https://app.example/cb#access_token=eyJ.secret&state=1 failed'));
    expect(errors.list()[0]?.message).toBe('redirect to https://app.example/cb#… failed');
    // A password past the kept part is never half shown: hidden before the cut.
    const far = recentErrors({ maxMessageLength: 20, clock: new FakeClock() });
    far.record(new Error('refused: https://u:hunter2@h/'));
    expect(far.list()[0]?.message).toBe('refused: https://…@h…');
  });

  it('survives errors that throw on access', () => {
    const errors = recentErrors({ clock: new FakeClock() });
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('no');
        },
      },
    );
    expect(() => errors.record(hostile)).not.toThrow();
    expect(errors.list()[0]).toMatchObject({ name: 'Error', category: 'unknown' });
  });

  it('rejects invalid options naming each one', () => {
    try {
      recentErrors({ max: 0, maxMessageLength: -1, clock: {} as never });
      throw new Error('no error');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).issues.map((i) => i.option)).toEqual(['max', 'maxMessageLength', 'clock']);
    }
    expect(() => recentErrors({ max: 100_001 })).toThrow(/max/);
    expect(() => recentErrors({ mx: 5 } as never)).toThrow(/did you mean max/);
  });
});
