import { describe, expect, it } from 'vitest';
import { circuitBreaker } from '../breaker/breaker.js';
import type { CallObserver } from './calls.js';

const breaker = () => circuitBreaker({ registry: false });

/** An observer that logs what it is told; its calls start at 1, 2, 3 ... */
function recorder(log: string[], name = 'o'): CallObserver {
  let now = 0;
  return {
    callStarted: () => ++now,
    callSettled: (startedAt, ok, error) =>
      log.push(`${name} ${ok ? 'ok' : `failed ${(error as Error).message}`} from ${startedAt}`),
  };
}

describe('observeCalls', () => {
  it('tells an observer of each call through execute or wrap, with its outcome', async () => {
    const policy = breaker();
    const log: string[] = [];
    policy.observeCalls(recorder(log));
    await policy.execute(() => 1);
    await policy.execute(() => Promise.reject(new Error('down'))).catch(() => {});
    await policy.wrap((x: number) => x)(2);
    expect(log).toEqual(['o ok from 1', 'o failed down from 2', 'o ok from 3']);
  });

  it('tells an observer added twice once per call, until both additions are disposed', async () => {
    const policy = breaker();
    const log: string[] = [];
    const observer = recorder(log);
    const first = policy.observeCalls(observer);
    const second = policy.observeCalls(observer);
    await policy.execute(() => 1);
    first();
    first();
    await policy.execute(() => 1);
    second();
    await policy.execute(() => 1);
    expect(log).toHaveLength(2);
  });

  it('keeps the outcome of a call whose observer throws, and tells the other observers', async () => {
    const policy = breaker();
    const log: string[] = [];
    policy.observeCalls({
      callStarted: () => {
        throw new Error('observer broken');
      },
      callSettled: () => {
        throw new Error('observer broken');
      },
    });
    policy.observeCalls(recorder(log, 'other'));
    await expect(policy.execute(() => 'value')).resolves.toBe('value');
    await expect(policy.execute(() => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(log).toEqual(['other ok from 1', 'other failed down from 2']);
  });
});

describe('observeCalls with runCall', () => {
  it('runs each call through the runCall of every observer that has one, the first outermost', async () => {
    const policy = breaker();
    const scopes: string[] = [];
    const seen: string[][] = [];
    const scoped = (name: string): CallObserver => ({
      callStarted: () => 0,
      callSettled: () => {},
      runCall: (call) => {
        scopes.push(name);
        return call().finally(() => scopes.pop());
      },
    });
    policy.observeCalls(scoped('outer'));
    policy.observeCalls(recorder([]));
    policy.observeCalls(scoped('inner'));
    await expect(
      policy.execute(() => {
        seen.push([...scopes]);
        return 'value';
      }),
    ).resolves.toBe('value');
    expect(seen).toEqual([['outer', 'inner']]);
    expect(scopes).toEqual([]);
  });

  it('still makes the call, once, when a runCall throws before or after calling it', async () => {
    const policy = breaker();
    let calls = 0;
    const first = policy.observeCalls({
      callStarted: () => 0,
      callSettled: () => {},
      runCall: () => {
        throw new Error('observer broken');
      },
    });
    await expect(policy.execute(() => ++calls)).resolves.toBe(1);
    first();
    policy.observeCalls({
      callStarted: () => 0,
      callSettled: () => {},
      runCall: (call) => {
        void call();
        throw new Error('observer broken');
      },
    });
    await expect(policy.execute(() => ++calls)).resolves.toBe(2);
    expect(calls).toBe(2);
  });
});
