import { describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { MESSAGE_PROCESSOR_DEFAULTS } from './options.js';
import { type MessageProcessorEvent, messageProcessor } from './processor.js';

const lost = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });

function watched(options: Partial<Parameters<typeof messageProcessor<{ id?: unknown }>>[0]>) {
  const p = messageProcessor<{ id?: unknown }>({ handler: vi.fn(), deadLetter: vi.fn(), name: 'orders', ...options });
  const events: MessageProcessorEvent[] = [];
  p.onEvent((e) => events.push(e));
  return { p, events };
}

describe('messageProcessor events', () => {
  it('names the processor, by default message-processor', () => {
    expect(MESSAGE_PROCESSOR_DEFAULTS.name).toBe('message-processor');
    expect(messageProcessor({ handler: vi.fn(), deadLetter: vi.fn() }).name).toBe('message-processor');
  });

  it('reports each message it dead-letters with the reason, once per message', async () => {
    const { p, events } = watched({
      handler: (m) => (m.id === 'bad' ? JSON.parse('{') : Promise.reject(lost())),
      maxAttempts: 2,
    });
    await p.process({ id: 'bad' });
    await p.process({ id: 'flaky' });
    await p.process({ id: 'flaky' });
    await p.process({ id: 'flaky' }); // a redelivery of a dead-lettered message: not sunk again
    await p.process({}); // no id: poison
    expect(events).toEqual([
      { type: 'dead_lettered', policy: 'orders', id: 'bad', reason: 'poison', attempts: 1 },
      { type: 'dead_lettered', policy: 'orders', id: 'flaky', reason: 'max_retries_exceeded', attempts: 2 },
      { type: 'dead_lettered', policy: 'orders', reason: 'poison', attempts: 1 },
    ]);
  });

  it('reports nothing dead-lettered when the sink fails', async () => {
    const { p, events } = watched({ handler: () => JSON.parse('{'), deadLetter: () => Promise.reject(new Error('x')) });
    await p.process({ id: 'bad' }).catch(() => {});
    expect(events).toEqual([]);
  });

  it('reports an attempt that a time limit ended, once, with the limit that ended it', async () => {
    const clock = new FakeClock();
    const { p, events } = watched({
      handler: (m, { signal }) =>
        new Promise((_, reject) => {
          // 'a' stops at the soft limit; 'b' ignores it and is cut at the hard one.
          if (m.id === 'a') signal.addEventListener('abort', () => reject(signal.reason));
        }),
      softTimeoutMs: 100,
      hardTimeoutMs: 300,
      clock,
    });
    const a = p.process({ id: 'a' });
    const b = p.process({ id: 'b' });
    await clock.advance(300);
    await Promise.all([a, b]);
    expect(events).toEqual([
      { type: 'timeout', policy: 'orders', id: 'a', attempt: 1, limit: 'soft', timeoutMs: 100 },
      { type: 'timeout', policy: 'orders', id: 'b', attempt: 1, limit: 'hard', timeoutMs: 300 },
    ]);
  });

  it('does not report a handler that outlives the soft limit and succeeds', async () => {
    const clock = new FakeClock();
    const { p, events } = watched({ handler: () => clock.sleep(200), softTimeoutMs: 100, clock });
    const done = p.process({ id: 'slow' });
    await clock.advance(200);
    expect(await done).toEqual({ outcome: 'done' });
    expect(events).toEqual([]);
  });

  it('stamps callback_failed with the name too', async () => {
    const broken = new Error('isPoison bug');
    const { p, events } = watched({
      handler: () => Promise.reject(lost()),
      isPoison: () => {
        throw broken;
      },
    });
    await p.process({ id: 'x' });
    expect(events).toEqual([
      { type: 'callback_failed', policy: 'orders', callback: 'isPoison', id: 'x', error: broken },
    ]);
  });

  it('reads an isPoison that answers anything but true, false or undefined (a promise) as failed, not as poison', async () => {
    const { p, events } = watched({
      handler: () => Promise.reject(lost()), // a 503-like failure: worth retrying
      isPoison: (() => Promise.resolve(false)) as never, // not async (refused), but a promise all the same
    });
    const result = await p.process({ id: 'x' });
    expect(result.outcome).toBe('retry');
    expect(events).toEqual([
      expect.objectContaining({ type: 'callback_failed', callback: 'isPoison', error: expect.any(TypeError) }),
    ]);
    expect(String((events[0] as { error: unknown }).error)).toContain('isPoison must return true, false or undefined');
  });
});
