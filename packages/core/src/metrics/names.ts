/** The key that collects every name beyond a bounded table's limit. */
export const OTHER = 'other';
/** Longest error name or label kept; longer ones are cut, so a table's memory stays bounded. */
export const MAX_NAME_LENGTH = 48;

/**
 * `text` cut to at most `max` UTF-16 units, one less rather than keep half a surrogate pair
 * (a lone one has no UTF-8 form: `encodeURIComponent` throws on it).
 */
export const cutText = (text: string, max: number): string =>
  text.length > max ? text.slice(0, max - +((text.charCodeAt(max - 1) & 0xfc00) === 0xd800)) : text;

/** The key `name` is kept under, for a lookup: {@link cutText} to {@link MAX_NAME_LENGTH}, not copied. */
export const cutName = (name: string): string => cutText(name, MAX_NAME_LENGTH);

/**
 * A key to store: {@link cutName}, copied so it does not keep a longer parent string alive
 * (V8 slices share their parent's memory). Runs only when a new name enters a table.
 */
export const ownKey = (name: string): string => (name.length > MAX_NAME_LENGTH ? copied(cutName(name)) : name);

/**
 * `text` in memory of its own: a slice of a string (a route cut from a long URL, a header's
 * first entry) keeps its whole parent alive in V8, so text kept long-term is copied. For short
 * text only, on the path where it is first kept.
 */
export const copied = (text: string): string => Array.from(text).join('');

/**
 * Counts by name: at most `max` names, further names under {@link OTHER}, every name cut to
 * {@link MAX_NAME_LENGTH} characters. One flat array of name, count pairs: for the few
 * dozen names a table holds, a third of a `Map`'s memory. A scan beats a hash for the
 * handful of names a table usually holds; a full table of 33 costs ~0.1 µs more a count.
 */
export class NameCounts {
  readonly #max: number;
  readonly #pairs: Array<string | number> = [];

  constructor(max: number) {
    this.#max = max;
  }

  /**
   * Adds `n` under `name`. `own` makes the key to store from a new name: a collector passes
   * one that reuses another table's copy of the same name.
   */
  add(name: string, n = 1, own: (key: string) => string = ownKey): void {
    const key = cutName(name);
    const pairs = this.#pairs;
    for (let i = 0; i < pairs.length; i += 2) {
      if (pairs[i] === key) {
        (pairs[i + 1] as number) += n;
        return;
      }
    }
    if (pairs.length < 2 * this.#max || key === OTHER) pairs.push(own(name), n);
    else this.add(OTHER, n);
  }

  /** The stored key equal to `name` (cut), to share: `undefined` when `name` is not counted here. */
  find(name: string): string | undefined {
    const key = cutName(name);
    const pairs = this.#pairs;
    for (let i = 0; i < pairs.length; i += 2) if (pairs[i] === key) return pairs[i] as string;
    return undefined;
  }

  /** Each name with its count, in the order the names came. */
  *[Symbol.iterator](): IterableIterator<[string, number]> {
    const pairs = this.#pairs;
    for (let i = 0; i < pairs.length; i += 2) yield [pairs[i] as string, pairs[i + 1] as number];
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries(this);
  }

  clear(): void {
    this.#pairs.length = 0;
  }
}

/** Merges name counts, keeping the `max` largest names and folding the rest into {@link OTHER}. */
export function mergeCounts(tables: readonly NameCounts[], max: number): Record<string, number> {
  const total = new Map<string, number>();
  for (const table of tables) for (const [name, n] of table) total.set(name, (total.get(name) ?? 0) + n);
  let other = total.get(OTHER) ?? 0;
  total.delete(OTHER);
  const sorted = [...total].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  for (const [, n] of sorted.slice(max)) other += n;
  const result: Record<string, number> = Object.fromEntries(sorted.slice(0, max));
  if (other > 0) result[OTHER] = other;
  return result;
}
