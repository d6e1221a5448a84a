/**
 * A count or duration to export, or undefined to leave it out of the scrape: prom-client fails
 * the whole scrape (the registry's other metrics too) on a negative or infinite increment,
 * prints NaN, and counts an `undefined` one as 1. A reading that throws is left out as well.
 */
export function countOf(read: () => unknown): number | undefined {
  try {
    const n = read();
    return typeof n === 'number' && n >= 0 && Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}
