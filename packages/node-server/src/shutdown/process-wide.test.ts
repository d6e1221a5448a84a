import { health } from '@resilience/core';
import { describe, expect, it } from 'vitest';
import * as first from './process-wide.js';

describe('the state shared by the shutdowns of a process', () => {
  it('is one for every copy of the module (express and koa each bundle it; ESM and CommonJS load it twice)', async () => {
    // @ts-expect-error: the query loads a second instance of the module, as a second bundle would.
    const second = (await import('./process-wide.js?another-bundle')) as typeof first;
    expect(second).not.toBe(first);
    const [api, metrics] = [{}, {}];
    first.drainingStarted(api);
    second.drainingStarted(metrics);
    let exited: number | undefined;
    void second.allDrained().then((code) => {
      exited = code;
    });
    second.drained(metrics, 0);
    await Promise.resolve();
    expect(exited).toBeUndefined(); // the API server, in the other copy, still drains
    first.drained(api, 1);
    await Promise.resolve();
    expect(exited).toBe(1);

    const probes = health();
    const turnedOff: string[] = [];
    first.turnOffOnce(probes, () => turnedOff.push('first'));
    second.turnOffOnce(probes, () => turnedOff.push('second'));
    expect(turnedOff).toEqual(['first']);
  });
});
