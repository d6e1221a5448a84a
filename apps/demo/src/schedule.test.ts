import { seededRandom } from '@resilience/core/testing';
import { describe, expect, it } from 'vitest';
import { drawFault, LONGEST_OUTAGE_SHARE, PHASE_NAMES, phaseAt, schedule, TRANSIENT_FAULT_RATE } from './schedule.js';

describe('schedule', () => {
  it('is the same for the same seed and differs for another', () => {
    expect(schedule(7, 60_000)).toEqual(schedule(7, 60_000));
    expect(schedule(8, 60_000)).not.toEqual(schedule(7, 60_000));
  });

  it('runs the five phases back to back over the whole duration', () => {
    for (const seed of [1, 2, 3, 42, 1_000]) {
      const phases = schedule(seed, 30_000);
      expect(phases.map((p) => p.name)).toEqual([...PHASE_NAMES]);
      expect(phases[0]!.startMs).toBe(0);
      expect(phases.at(-1)!.endMs).toBe(30_000);
      for (let i = 1; i < phases.length; i++) expect(phases[i]!.startMs).toBe(phases[i - 1]!.endMs);
      for (const p of phases) expect(p.endMs - p.startMs).toBeGreaterThan(30_000 * 0.1);
    }
  });

  it('never draws an outage longer than LONGEST_OUTAGE_SHARE of the run, which the saga waits out', () => {
    let longest = 0;
    for (let seed = 0; seed < 5_000; seed++) {
      const outage = schedule(seed, 60_000).find((p) => p.name === 'outage')!;
      longest = Math.max(longest, outage.endMs - outage.startMs);
    }
    expect(LONGEST_OUTAGE_SHARE).toBeCloseTo(0.24 / 0.88, 10);
    expect(longest).toBeLessThanOrEqual(Math.ceil(60_000 * LONGEST_OUTAGE_SHARE));
    // The bound is near what the seeds draw, not far above it.
    expect(longest).toBeGreaterThan(60_000 * 0.22);
  });

  it('scales with the duration', () => {
    const long = schedule(5, 60_000);
    const short = schedule(5, 6_000);
    for (let i = 0; i < long.length; i++) expect(short[i]!.endMs).toBeCloseTo(long[i]!.endMs / 10, -1);
  });

  it('injects 30 % transient faults in the transient phase, only 429s when throttling, only the outage in the outage', () => {
    const phases = schedule(42, 60_000);
    const random = seededRandom(1);
    const draws = (name: string) => {
      const phase = phases.find((p) => p.name === name)!;
      return Array.from({ length: 10_000 }, () => drawFault(phase, random));
    };
    const transient = draws('transient');
    const share = transient.filter((f) => f !== undefined).length / transient.length;
    expect(share).toBeGreaterThan(TRANSIENT_FAULT_RATE - 0.02);
    expect(share).toBeLessThan(TRANSIENT_FAULT_RATE + 0.02);
    expect(new Set(transient)).toEqual(new Set([undefined, 'error_500', 'error_502', 'error_503', 'drop', 'slow']));
    expect(new Set(draws('throttling'))).toEqual(new Set([undefined, 'throttle_429']));
    expect(new Set(draws('outage'))).toEqual(new Set(['outage']));
    expect(new Set(draws('healthy'))).toEqual(new Set([undefined]));
  });

  it('finds the phase at a time, and the last one after the end', () => {
    const phases = schedule(42, 10_000);
    expect(phaseAt(phases, 0).name).toBe('healthy');
    expect(phaseAt(phases, phases[3]!.startMs).name).toBe('outage');
    expect(phaseAt(phases, 99_999).name).toBe('recovery');
  });
});
