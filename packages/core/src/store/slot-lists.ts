/** No slot: the end of a list, or an empty list's ends. */
export const NIL = -1;
/** The memory store's two lists: unpinned keys by recency, pinned keys in pin order. */
export const LRU = 0;
export const PINS = 1;

/**
 * Doubly linked lists over slot numbers (each slot in at most one list). A slot's two
 * links, `[older, newer]`, are Int32s `at` and `at + 1` of its `stride` Int32s in the
 * array given to {@link use}: the memory store keeps them inside the slot's record, so
 * moving a key to the front reads its links from the cache line its lookup just loaded.
 * Every operation is O(1). The memory store uses them for exact LRU eviction.
 */
export class SlotLists {
  readonly #stride: number;
  readonly #at: number;
  #links: Int32Array = new Int32Array(0);
  // Per list: its newest slot, then its oldest.
  readonly #ends = new Int32Array(4).fill(NIL);

  constructor(stride: number, at: number) {
    this.#stride = stride;
    this.#at = at;
  }

  /** The array holding the links, after it grew (its contents are the lists'). */
  use(links: Int32Array): void {
    this.#links = links;
  }

  newest(list: number): number {
    return this.#ends[2 * list]!;
  }

  oldest(list: number): number {
    return this.#ends[2 * list + 1]!;
  }

  /** The slot after `slot` towards the newest end of its list, or NIL. */
  newer(slot: number): number {
    return this.#links[slot * this.#stride + this.#at + 1]!;
  }

  /** Adds `slot` at the newest end of `list`. */
  push(slot: number, list: number): void {
    const links = this.#links;
    const ends = this.#ends;
    const newest = ends[2 * list]!;
    const i = slot * this.#stride + this.#at;
    links[i] = newest;
    links[i + 1] = NIL;
    if (newest === NIL) ends[2 * list + 1] = slot;
    else links[newest * this.#stride + this.#at + 1] = slot;
    ends[2 * list] = slot;
  }

  /** Takes `slot` out of `list`. */
  remove(slot: number, list: number): void {
    const links = this.#links;
    const ends = this.#ends;
    const i = slot * this.#stride + this.#at;
    const older = links[i]!;
    const newer = links[i + 1]!;
    if (older === NIL) ends[2 * list + 1] = newer;
    else links[older * this.#stride + this.#at + 1] = newer;
    if (newer === NIL) ends[2 * list] = older;
    else links[newer * this.#stride + this.#at] = older;
  }

  /** Moves `slot` from list `from` to the newest end of list `to` (the same list: to its front). */
  move(slot: number, from: number, to: number): void {
    if (from === to && slot === this.#ends[2 * to]) return;
    this.remove(slot, from);
    this.push(slot, to);
  }

  /** Forgets `list` (its slots' links are left as they are: the caller reuses them). */
  drop(list: number): void {
    this.#ends[2 * list] = NIL;
    this.#ends[2 * list + 1] = NIL;
  }

  clear(): void {
    this.#links = new Int32Array(0);
    this.#ends.fill(NIL);
  }
}
