/** No slot: the end of a list, or an empty list's ends. */
export const NIL = -1;
/** The memory store's two lists: unpinned keys by recency, pinned keys in pin order. */
export const LRU = 0;
export const PINS = 1;

/**
 * Doubly linked lists over slot numbers (each slot in at most one list), kept in one
 * `Int32Array` of `[older, newer]` links per slot: 8 bytes a slot. Every operation is
 * O(1). The memory store uses them for exact LRU eviction.
 */
export class SlotLists {
  #links = new Int32Array(0);
  // Per list: its newest slot, then its oldest.
  readonly #ends = new Int32Array(4).fill(NIL);

  newest(list: number): number {
    return this.#ends[2 * list]!;
  }

  oldest(list: number): number {
    return this.#ends[2 * list + 1]!;
  }

  /** The slot after `slot` towards the newest end of its list, or NIL. */
  newer(slot: number): number {
    return this.#links[2 * slot + 1]!;
  }

  /** Adds `slot` at the newest end of `list`. */
  push(slot: number, list: number): void {
    const links = this.#links;
    const ends = this.#ends;
    const newest = ends[2 * list]!;
    links[2 * slot] = newest;
    links[2 * slot + 1] = NIL;
    if (newest === NIL) ends[2 * list + 1] = slot;
    else links[2 * newest + 1] = slot;
    ends[2 * list] = slot;
  }

  /** Takes `slot` out of `list`. */
  remove(slot: number, list: number): void {
    const links = this.#links;
    const ends = this.#ends;
    const older = links[2 * slot]!;
    const newer = links[2 * slot + 1]!;
    if (older === NIL) ends[2 * list + 1] = newer;
    else links[2 * older + 1] = newer;
    if (newer === NIL) ends[2 * list] = older;
    else links[2 * newer] = older;
  }

  /** Moves `slot` from list `from` to the newest end of list `to` (the same list: to its front). */
  move(slot: number, from: number, to: number): void {
    if (from === to && slot === this.#ends[2 * to]) return;
    this.remove(slot, from);
    this.push(slot, to);
  }

  /** Makes room for slots `0 .. capacity - 1`, keeping the lists. */
  grow(capacity: number): void {
    const links = new Int32Array(capacity * 2);
    links.set(this.#links);
    this.#links = links;
  }

  clear(): void {
    this.#links = new Int32Array(0);
    this.#ends.fill(NIL);
  }
}
