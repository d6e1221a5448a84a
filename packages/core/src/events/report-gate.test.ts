import { describe, expect, it } from 'vitest';
import { ReportGate } from './report-gate.js';

describe('ReportGate', () => {
  it('lets one report through per period, with the count held back since the last', () => {
    const gate = new ReportGate(60_000);
    expect([gate.pass(0), gate.pass(1), gate.pass(59_999), gate.pass(60_000)]).toEqual([0, undefined, undefined, 2]);
  });

  it('lets a report through after the clock steps back (NTP), rather than hold reports back for the length of the step', () => {
    const T = 1_700_000_000_000;
    const gate = new ReportGate(60_000);
    expect(gate.pass(T)).toBe(0);
    expect(gate.pass(T - 3_600_000)).toBe(0);
    expect(gate.pass(T - 3_600_000 + 1)).toBeUndefined();
  });
});
