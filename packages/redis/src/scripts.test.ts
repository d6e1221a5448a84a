import { describe, expect, it } from 'vitest';
import { applyAllScript, applyScript } from './scripts.js';

/** The names of the functions a Lua script defines (each one a closure built on every call). */
const functionsOf = (source: string): string[] =>
  [...source.matchAll(/\bfunction\s*([\w.]*)\s*\(/g)].map((m) => m[1] || '(anonymous)');

describe('scripts', () => {
  it('runs a rate limit’s own apply inline: no step function or helper closure, only num where a number needs text (and the sliding window’s two helpers over their arguments)', () => {
    for (const kind of ['tokenBucket', 'gcra', 'fixedWindow']) {
      for (const name of [`ratelimit.${kind}`, `ratelimit.${kind}.peek`]) {
        expect(functionsOf(applyScript(name).source), name).toEqual(['(anonymous)']);
      }
    }
    expect(functionsOf(applyScript('ratelimit.slidingWindow').source)).toEqual([
      'slidingDrainedAt',
      'slidingAdmitAt',
      '(anonymous)',
    ]);
  });

  it('gives an applyAll only the steps of its transitions: a multi-limit decision defines no breaker, record or saga function', () => {
    const names = ['ratelimit.tokenBucket', 'ratelimit.fixedWindow'];
    expect(functionsOf(applyAllScript(names).source)).toEqual([
      '(anonymous)',
      'load',
      'save',
      'fixedWindow',
      'tokenBucket',
    ]);
    expect(applyAllScript([...names].reverse()).sha, 'one script whatever the order').toBe(applyAllScript(names).sha);
  });

  it('restores a count window from its words (a popcount each), never by a loop over its size: a window of 100 000 calls is 6 250 words, not 100 000 slots, on every call', () => {
    for (const name of ['breaker.count-window', 'breaker.count-window.sync']) {
      const loops = [...applyScript(name).source.matchAll(/\bfor\b[^\n]*\bdo\b/g)].map((m) => m[0]);
      expect(
        loops.filter((loop) => /\bsize\b/.test(loop)),
        name,
      ).toEqual([]);
    }
  });
});
