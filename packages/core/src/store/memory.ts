import { StoreFullError } from '../errors/errors.js';
import { KEY_CLOSE, KEY_OPEN, NAMESPACE_END } from './namespace.js';
import { type MemoryStoreOptions, resolveMemoryStoreOptions } from './options.js';
import { LRU, NIL, PINS, SlotLists } from './slot-lists.js';
import {
  PACKED_MAX_WIDTH,
  type PackedCodec,
  type PackedTransition,
  type Store,
  type StoreKeysOptions,
  type StoreOperation,
  type Transition,
} from './store.js';

const GENERIC = 0;
// A memory store of any copy of core (ESM and CommonJS entries, two versions): the limiter's and
// the shared breaker's fast paths call its `…Sync` methods. Versioned: bump it if those change.
const BRAND = /* @__PURE__ */ Symbol.for('@resilience/core:memoryStore.v1');
/** Whether `store` is a memory store of this copy of core or of another one (`instanceof` knows only this one's). */
export const isMemoryStore = (store: unknown): store is MemoryStore => (store as Branded | null)?.[BRAND] === true;
type Branded = { [BRAND]?: true };
// One record per slot in a Float64Array: [expiresAt, meta, ...packed state, links]: 48
// bytes, the last 8 the slot's two Int32 links in the recency or pin list (SlotLists), or,
// while the recency list is not kept, an unpinned key's use stamp (see #stamp).
const EXPIRES = 0;
// META packs the kind (bits 0-7), the pinned bit (8) and the key space (9 and up).
const META = 1;
const STATE = 2;
const KIND_MASK = 255;
const PINNED = 256;
const SPACE_SHIFT = 9;
const kindOf = (meta: number): number => meta & KIND_MASK;
// Literals with their formulas beside them: arithmetic at module level would run at import
// and stay in every bundle of the package.
// The bits of META below the space: kept when a key moves to another space.
const SPACE_KEEP = 0x1ff; // (1 << SPACE_SHIFT) - 1
const LINKS = 5; // STATE + PACKED_MAX_WIDTH
const STRIDE = 6; // LINKS + 1
const SCRATCH = 5; // PACKED_MAX_WIDTH + 2
const INITIAL_CAPACITY = 1024;
const MAX_PACKERS = 255;
// Stamps are use count × a power of two above every slot number, plus the slot: unique,
// ordered by use, and exact below 2 ** 53. Stores of more keys keep the list from the start.
const MAX_STAMPED_SLOTS = 16_777_216; // 2 ** 24
const STAMP_LIMIT = 4_503_599_627_370_496; // 2 ** 52

// biome-ignore lint/suspicious/noExplicitAny: the store holds transitions of every type.
type AnyPacked = PackedTransition<any, any, any>;
// biome-ignore lint/suspicious/noExplicitAny: the store holds states of every type.
type AnyCodec = PackedCodec<any>;

// Layout: a `Map` from key to slot number; per slot one record in a `Float64Array` (its
// expiry, its kind and, for packed transitions such as rate limits, the numeric state), so
// one lookup touches one record, which also holds its two links of a doubly linked list
// (SlotLists: the unpinned keys by recency, the pinned ones in pin order). Other states are
// kept as the objects themselves. True LRU: every use moves a key to the front in O(1);
// until the store is first full a use only stamps its record, and the first insert that
// finds no room sorts the stamps into the list, once. So a key used again before
// `maxKeys / 2` other keys were touched is never evicted, whatever the others' pattern
// (before `maxKeys` while nothing is pinned). One expired key is reclaimed as each new key
// arrives.
/**
 * The embedded store (see {@link memoryStore}): each operation is synchronous inside (so
 * atomic); its promise is already settled.
 */
export class MemoryStore implements Store {
  readonly maxKeys: number;
  readonly #maxPinned: number;
  // One index per key space: space 0 holds full keys; space n holds keys without its prefix.
  readonly #indexes: Map<string, number>[] = [new Map()];
  readonly #prefixes: string[] = [''];
  readonly #spaceIds = new Map<string, number>([['', 0]]);
  #count = 0;
  #subKey = '';
  #capacity = 0;
  #used = 0;
  #free: number = NIL;
  readonly #lists = new SlotLists(STRIDE * 2, LINKS * 2);
  /**
   * Whether the recency list is kept. Until the store is first full, a use only stamps the
   * key's record (a write to the line its lookup loaded); the first insert that finds no
   * room sorts the stamps into the list, kept from then on. A `sweep` that leaves the store
   * half full goes back to stamps.
   */
  #ordered: boolean;
  /** A power of two above every slot number: the stamps' unit. */
  readonly #slotSpan: number;
  /** Whether stamps stay exact for this many slots; else the list is kept from the start. */
  readonly #stampable: boolean;
  #stamp = 0;
  /** While unordered: the next slot to check for an expired key as a new key arrives. */
  #hand = 0;
  #pinned = 0;
  #keys: (string | undefined)[] = [];
  #rec = new Float64Array(0);
  #objs: unknown[] | undefined;
  readonly #codecs: AnyCodec[] = [];
  readonly #codecIds = new Map<AnyCodec, number>();
  #lastCodec: AnyCodec | undefined;
  #lastId = GENERIC;
  readonly #scratch = new Float64Array(SCRATCH);
  #multi = new Float64Array(SCRATCH * 4);

  constructor(options: MemoryStoreOptions = {}) {
    this.maxKeys = resolveMemoryStoreOptions(options).maxKeys;
    this.#maxPinned = Math.floor(this.maxKeys / 2);
    this.#slotSpan = 2 ** Math.ceil(Math.log2(this.maxKeys + 1));
    this.#stampable = this.#slotSpan <= MAX_STAMPED_SLOTS;
    this.#ordered = !this.#stampable;
    // Not a class member (a computed key would keep the class in every bundle); not copied by a spread.
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** Keys held, including expired ones not yet reclaimed. */
  get size(): number {
    return this.#count;
  }

  /** The key space of a namespace (see `storeNamespace`): the `space` argument of the `…Sync` methods. */
  space(prefix: string): number {
    // The `…Sync` methods then take the caller's keys alone (`user-42` for the store key
    // `{rl:api|user-42}`, see `storeKey`), which saves building (and hashing) the store key on
    // every call; the root methods still see the full keys. Keys written under their full names
    // before the space existed move into it; keys of the namespace that do not end its hash tag
    // (`{rl:api|u}|0.gcra`) stay at the root. Namespaces are never prefixes of one another, so
    // which space holds a key does not depend on the order spaces were made in. Throws
    // `TypeError` for a prefix that is not a namespace.
    const known = this.#spaceIds.get(prefix);
    if (known !== undefined) return known;
    if (
      typeof prefix !== 'string' ||
      !prefix.startsWith(KEY_OPEN) ||
      prefix.indexOf(NAMESPACE_END) !== prefix.length - 1
    ) {
      throw new TypeError(
        `memoryStore.space: expected a namespace from storeNamespace(...) ("${KEY_OPEN}" first, one "${NAMESPACE_END}", at its end), received ${JSON.stringify(prefix)}`,
      );
    }
    const id = this.#prefixes.length;
    if (id >= 1 << 21) throw new RangeError('memoryStore: too many key spaces');
    const index = new Map<string, number>();
    const root = this.#indexes[0]!;
    for (const [key, slot] of root) {
      if (!key.startsWith(prefix) || !key.endsWith(KEY_CLOSE)) continue;
      root.delete(key);
      const sub = flatten(key.slice(prefix.length, -1));
      index.set(sub, slot);
      this.#keys[slot] = sub;
      const m = slot * STRIDE + META;
      this.#rec[m] = (this.#rec[m]! & SPACE_KEEP) | (id << SPACE_SHIFT);
    }
    this.#prefixes.push(prefix);
    this.#spaceIds.set(prefix, id);
    this.#indexes.push(index);
    return id;
  }

  /**
   * The space of a full key (the space of its namespace when the key ends its hash tag,
   * else the root); sets `#subKey` to the key within it.
   */
  #resolve(key: string): number {
    const end = this.#prefixes.length === 1 || !key.endsWith(KEY_CLOSE) ? -1 : key.indexOf(NAMESPACE_END);
    const id = end < 0 || end === key.length - 1 ? undefined : this.#spaceIds.get(key.slice(0, end + 1));
    if (id === undefined) {
      this.#subKey = key;
      return 0;
    }
    this.#subKey = key.slice(end + 1, -1);
    return id;
  }

  apply<S, I, O>(key: string, transition: Transition<S, I, O>, input: I, now: number): Promise<O> {
    try {
      return Promise.resolve(this.applySync(key, transition, input, now));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** {@link Store.apply} without the promise, for in-process callers. */
  applySync<S, I, O>(key: string, transition: Transition<S, I, O>, input: I, now: number, space = 0): O {
    if (space === 0 && this.#prefixes.length > 1) {
      space = this.#resolve(key);
      key = this.#subKey;
    }
    let slot = this.#indexes[space]!.get(key);
    const rec = this.#rec;
    // An expired key reads as absent but keeps its slot, so a key that keeps returning
    // to "full" between calls costs no Map delete and insert.
    const fresh = slot === undefined || rec[slot * STRIDE + EXPIRES]! <= now;
    const packed = transition.packed;
    const id = packed === undefined ? GENERIC : this.#codecId(packed.codec);
    if (id !== GENERIC && (fresh || kindOf(rec[slot! * STRIDE + META]!) === id)) {
      const p = packed as AnyPacked;
      const next = this.#scratch;
      const output = p.step(rec, fresh ? 0 : slot! * STRIDE + STATE, fresh, input, now, next);
      this.#commitPacked(key, space, slot, fresh, id, p.codec.width, next, 0, now);
      return output as O;
    }
    if (fresh && slot !== undefined) {
      this.#remove(slot);
      slot = undefined;
    }
    const result = transition.apply(this.#read(slot) as S | undefined, input, now);
    if (result.write !== false) {
      this.#write(key, space, slot, result.state, result.ttlMs, now, id, packed, result.pinned === true);
    } else if (slot !== undefined) this.#touch(slot);
    return result.output;
  }

  applyAll(operations: readonly StoreOperation[], now: number): Promise<unknown[]> {
    try {
      return Promise.resolve(this.applyAllSync(operations, now));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** {@link Store.applyAll} without the promise; with `space`, the operations' keys are within it. */
  applyAllSync(operations: readonly StoreOperation[], now: number, space = 0): unknown[] {
    const n = operations.length;
    for (let k = 0; k < n; k++) {
      for (let j = 0; j < k; j++) {
        const key = operations[k]!.key;
        if (operations[j]!.key === key) throw new TypeError(`applyAll: key "${key}" appears twice`);
      }
    }
    if (this.#multi.length < n * SCRATCH) this.#multi = new Float64Array(n * SCRATCH * 2);
    const multi = this.#multi;
    const outputs: unknown[] = new Array(n);
    const results: ({ state: unknown; ttlMs: number; write?: boolean; pinned?: boolean } | undefined)[] = new Array(n);
    const slots: (number | undefined)[] = new Array(n);
    const fresh: boolean[] = new Array(n);
    const spaces: number[] = new Array(n);
    const keys: string[] = new Array(n);
    for (let k = 0; k < n; k++) {
      const key = operations[k]!.key;
      spaces[k] = space === 0 && this.#prefixes.length > 1 ? this.#resolve(key) : space;
      keys[k] = space === 0 && this.#prefixes.length > 1 ? this.#subKey : key;
    }
    let accepted = true;
    for (let k = 0; k < n; k++) {
      const op = operations[k]!;
      const slot = this.#indexes[spaces[k]!]!.get(keys[k]!);
      const rec = this.#rec;
      const isFresh = slot === undefined || rec[slot * STRIDE + EXPIRES]! <= now;
      slots[k] = slot;
      fresh[k] = isFresh;
      const packed = op.transition.packed;
      const id = packed === undefined ? GENERIC : this.#codecId(packed.codec);
      if (id !== GENERIC && (isFresh || kindOf(rec[slot! * STRIDE + META]!) === id)) {
        const scratch = this.#scratch;
        outputs[k] = packed!.step(rec, isFresh ? 0 : slot! * STRIDE + STATE, isFresh, op.input, now, scratch);
        multi.set(scratch, k * SCRATCH);
        if (scratch[packed!.codec.width + 1] === 0) accepted = false;
      } else {
        const result = op.transition.apply(isFresh ? undefined : this.#read(slot), op.input, now);
        outputs[k] = result.output;
        results[k] = result;
        if (result.accepted === false) accepted = false;
      }
    }
    for (let k = 0; k < n; k++) {
      const slot = slots[k];
      if (slot !== undefined) this.#touch(slot);
    }
    if (!accepted) return outputs;
    // Refuse pins past the bound before writing anything.
    let pins = 0;
    let first = 0;
    for (let k = n - 1; k >= 0; k--) {
      const r = results[k];
      if (r?.pinned !== true || r.write === false || r.state === undefined || !(r.ttlMs > 0)) continue;
      const slot = this.#indexes[spaces[k]!]!.get(keys[k]!);
      if (slot === undefined || !this.#isPinned(slot)) {
        pins++;
        first = k;
      }
    }
    if (pins > 0) this.#reservePins(pins, keys[first]!, spaces[first]!, now);
    for (let k = 0; k < n; k++) {
      const op = operations[k]!;
      const result = results[k];
      const packed = op.transition.packed;
      const id = packed === undefined ? GENERIC : this.#codecId(packed.codec);
      // A slot may have been reclaimed by an insert of an earlier operation of this batch.
      const slot = this.#indexes[spaces[k]!]!.get(keys[k]!);
      if (result !== undefined) {
        if (result.write !== false) {
          this.#write(keys[k]!, spaces[k]!, slot, result.state, result.ttlMs, now, id, packed, result.pinned === true);
        }
        continue;
      }
      this.#commitPacked(
        keys[k]!,
        spaces[k]!,
        slot,
        fresh[k]! || slot === undefined,
        id,
        packed!.codec.width,
        multi,
        k * SCRATCH,
        now,
      );
    }
    return outputs;
  }

  get<S>(key: string, now: number): Promise<S | undefined> {
    return Promise.resolve(this.getSync<S>(key, now));
  }

  /** {@link Store.get} without the promise. A read is a use: it moves the key to the front. */
  getSync<S>(key: string, now: number): S | undefined {
    const space = this.#resolve(key);
    const slot = this.#indexes[space]!.get(this.#subKey);
    if (slot === undefined) return undefined;
    if (this.#rec[slot * STRIDE + EXPIRES]! <= now) {
      this.#remove(slot);
      return undefined;
    }
    this.#touch(slot);
    return this.#read(slot) as S;
  }

  set<S>(key: string, state: S, ttlMs: number, now: number): Promise<void> {
    const space = this.#resolve(key);
    const sub = this.#subKey;
    try {
      this.#write(sub, space, this.#indexes[space]!.get(sub), state, ttlMs, now, GENERIC, undefined, false);
    } catch (error) {
      return Promise.reject(error);
    }
    return Promise.resolve();
  }

  delete(key: string): Promise<boolean> {
    return Promise.resolve(this.deleteSync(key));
  }

  /** {@link Store.delete} without the promise; with `space`, `key` is within it. */
  deleteSync(key: string, space = 0): boolean {
    let s = space;
    let k = key;
    if (s === 0) {
      s = this.#resolve(key);
      k = this.#subKey;
    }
    const slot = this.#indexes[s]!.get(k);
    if (slot !== undefined) this.#remove(slot);
    return slot !== undefined;
  }

  keys(prefix: string, now: number, options: StoreKeysOptions = {}): Promise<string[]> {
    const limit = options.limit ?? 1000;
    const out: string[] = [];
    for (let s = 0; s < this.#prefixes.length && out.length < limit; s++) {
      const p = this.#prefixes[s]!;
      if (!p.startsWith(prefix) && !prefix.startsWith(p)) continue;
      for (const [key, slot] of this.#indexes[s]!) {
        if (out.length >= limit) break;
        const full = s === 0 ? key : p + key + KEY_CLOSE;
        if (full.startsWith(prefix) && this.#rec[slot * STRIDE + EXPIRES]! > now) out.push(full);
      }
    }
    return Promise.resolve(out);
  }

  /** Drops every key whose TTL has passed; returns how many. O(keys). */
  sweep(now: number): number {
    let dropped = 0;
    for (const index of this.#indexes) {
      for (const slot of index.values()) {
        if (this.#rec[slot * STRIDE + EXPIRES]! <= now) {
          this.#remove(slot);
          dropped++;
        }
      }
    }
    if (this.#ordered && this.#stampable && this.#count <= this.maxKeys / 2) this.#unorder();
    return dropped;
  }

  /** Deletes every key and releases the slab. */
  clear(): void {
    for (const index of this.#indexes) index.clear();
    this.#count = 0;
    this.#capacity = 0;
    this.#used = 0;
    this.#free = NIL;
    this.#lists.clear();
    this.#ordered = !this.#stampable;
    this.#stamp = 0;
    this.#hand = 0;
    this.#pinned = 0;
    this.#keys = [];
    this.#objs = undefined;
    this.#rec = new Float64Array(0);
  }

  #commitPacked(
    key: string,
    space: number,
    slot: number | undefined,
    fresh: boolean,
    id: number,
    width: number,
    next: Float64Array,
    from: number,
    now: number,
  ): void {
    const ttlMs = next[from + width]!;
    if (Number.isNaN(ttlMs)) {
      if (slot !== undefined) {
        if (fresh) this.#remove(slot);
        else this.#touch(slot);
      }
      return;
    }
    if (!(ttlMs > 0)) {
      if (slot !== undefined) this.#remove(slot);
      return;
    }
    let s = slot;
    if (s === undefined) s = this.#insert(key, space, now);
    else {
      this.#place(s, false);
      if (this.#objs !== undefined && kindOf(this.#rec[s * STRIDE + META]!) === GENERIC) this.#objs[s] = undefined;
    }
    const rec = this.#rec;
    const base = s * STRIDE;
    rec[base + EXPIRES] = now + ttlMs;
    rec[base + META] = (rec[base + META]! & ~KIND_MASK) | id;
    for (let i = 0; i < width; i++) rec[base + STATE + i] = next[from + i]!;
  }

  #codecId(codec: AnyCodec): number {
    if (codec === this.#lastCodec) return this.#lastId;
    let id = this.#codecIds.get(codec);
    if (id === undefined) {
      if (this.#codecs.length >= MAX_PACKERS || codec.width > PACKED_MAX_WIDTH) id = GENERIC;
      else {
        this.#codecs.push(codec);
        id = this.#codecs.length;
        this.#codecIds.set(codec, id);
      }
    }
    this.#lastCodec = codec;
    this.#lastId = id;
    return id;
  }

  #read(slot: number | undefined): unknown {
    if (slot === undefined) return undefined;
    const kind = kindOf(this.#rec[slot * STRIDE + META]!);
    if (kind === GENERIC) return this.#objs?.[slot];
    return this.#codecs[kind - 1]!.unpack(this.#rec, slot * STRIDE + STATE);
  }

  #write(
    key: string,
    space: number,
    slot: number | undefined,
    state: unknown,
    ttlMs: number,
    now: number,
    id: number,
    packed: AnyPacked | undefined,
    pinned: boolean,
  ): void {
    if (state === undefined || !(ttlMs > 0)) {
      if (slot !== undefined) this.#remove(slot);
      return;
    }
    if (pinned && (slot === undefined || !this.#isPinned(slot))) this.#reservePins(1, key, space, now);
    const s = slot ?? this.#insert(key, space, now);
    this.#place(s, pinned);
    const base = s * STRIDE;
    const rec = this.#rec;
    rec[base + EXPIRES] = now + ttlMs;
    const meta = rec[base + META]! & ~KIND_MASK;
    if (id !== GENERIC && packed !== undefined) {
      rec[base + META] = meta | id;
      if (this.#objs !== undefined) this.#objs[s] = undefined;
      packed.codec.pack(state, rec, base + STATE);
    } else {
      rec[base + META] = meta | GENERIC;
      if (this.#objs === undefined) this.#objs = new Array(this.#capacity);
      this.#objs[s] = state;
    }
  }

  #insert(key: string, space: number, now: number): number {
    this.#makeRoom(now);
    let slot: number;
    if (this.#free !== NIL) {
      slot = this.#free;
      this.#free = this.#rec[slot * STRIDE + STATE]!;
    } else {
      if (this.#used === this.#capacity) this.#grow();
      slot = this.#used++;
    }
    const flat = flatten(key);
    this.#keys[slot] = flat;
    this.#indexes[space]!.set(flat, slot);
    this.#rec[slot * STRIDE + META] = space << SPACE_SHIFT;
    this.#count++;
    this.#add(slot);
    return slot;
  }

  /**
   * Before an insert: reclaims the oldest key of either list if its TTL has passed, else,
   * if the store is full, evicts the least recently used unpinned key. There always is one
   * then: at most half the keys are pinned. While unordered, the key under the hand is
   * reclaimed if its TTL has passed, and the store orders itself once full.
   */
  #makeRoom(now: number): void {
    const rec = this.#rec;
    if (!this.#ordered) {
      const hand = this.#hand < this.#used ? this.#hand : 0;
      this.#hand = hand + 1;
      if (this.#keys[hand] !== undefined && rec[hand * STRIDE + EXPIRES]! <= now) this.#remove(hand);
      if (this.#count < this.maxKeys) return;
      this.#order();
    }
    const oldest = this.#lists.oldest(LRU);
    const oldestPin = this.#lists.oldest(PINS);
    if (oldest !== NIL && rec[oldest * STRIDE + EXPIRES]! <= now) this.#remove(oldest);
    else if (oldestPin !== NIL && rec[oldestPin * STRIDE + EXPIRES]! <= now) this.#remove(oldestPin);
    else if (this.#count >= this.maxKeys) this.#remove(oldest);
  }

  #isPinned(slot: number): boolean {
    return (this.#rec[slot * STRIDE + META]! & PINNED) !== 0;
  }

  /**
   * Makes room for `n` more pins, reclaiming pinned keys past their TTL if needed, or
   * throws `StoreFullError` (naming `key`) when the live pins leave no room.
   */
  #reservePins(n: number, key: string, space: number, now: number): void {
    if (this.#pinned + n <= this.#maxPinned) return;
    for (let slot = this.#lists.oldest(PINS); slot !== NIL; ) {
      const newer = this.#lists.newer(slot);
      if (this.#rec[slot * STRIDE + EXPIRES]! <= now) this.#remove(slot);
      slot = newer;
    }
    if (this.#pinned + n <= this.#maxPinned) return;
    throw new StoreFullError(
      `memoryStore: ${this.#pinned} of its ${this.maxKeys} keys are pinned (in-flight locks), the most it pins; ` +
        `refusing to pin ${JSON.stringify(space === 0 ? key : this.#prefixes[space] + key + KEY_CLOSE)} rather than evict a live lock. ` +
        'Raise maxKeys, or finish or shorten the locks.',
    );
  }

  /** A read-only use: moves an unpinned key to the front of the recency list (or stamps it). */
  #touch(slot: number): void {
    if (this.#isPinned(slot)) return;
    if (this.#ordered) this.#lists.move(slot, LRU, LRU);
    else this.#stampOf(slot);
  }

  /** A write: the key goes to the front of the pinned list when `pinned`, else of the recency list. */
  #place(slot: number, pinned: boolean): void {
    const m = slot * STRIDE + META;
    const was = (this.#rec[m]! & PINNED) !== 0;
    if (!was && !pinned) {
      this.#touch(slot);
      return;
    }
    if (was !== pinned) {
      this.#rec[m] = this.#rec[m]! ^ PINNED;
      this.#pinned += pinned ? 1 : -1;
    }
    if (was && pinned) this.#lists.move(slot, PINS, PINS);
    else if (pinned) {
      if (this.#ordered) this.#lists.remove(slot, LRU);
      this.#lists.push(slot, PINS);
    } else {
      this.#lists.remove(slot, PINS);
      this.#add(slot);
    }
  }

  /** An unpinned key newly in the recency order: at its front. */
  #add(slot: number): void {
    if (this.#ordered) this.#lists.push(slot, LRU);
    else this.#stampOf(slot);
  }

  /** Stamps a use of an unpinned key; past 2 ** 52 stamps the list is kept instead (a sweep renumbers). */
  #stampOf(slot: number): void {
    this.#stamp += this.#slotSpan;
    this.#rec[slot * STRIDE + LINKS] = this.#stamp + slot;
    if (this.#stamp >= STAMP_LIMIT) this.#order();
  }

  /** Builds the recency list from the unpinned keys' stamps, oldest first. O(n log n), once full. */
  #order(): void {
    const rec = this.#rec;
    const stamps = new Float64Array(this.#count - this.#pinned);
    let n = 0;
    for (let slot = 0; slot < this.#used; slot++) {
      if (this.#keys[slot] !== undefined && (rec[slot * STRIDE + META]! & PINNED) === 0) {
        stamps[n++] = rec[slot * STRIDE + LINKS]!;
      }
    }
    stamps.sort();
    this.#ordered = true;
    const span = this.#slotSpan;
    for (let i = 0; i < n; i++) this.#lists.push(stamps[i]! % span, LRU);
  }

  /** Back to stamps, numbered afresh in the list's order. */
  #unorder(): void {
    const lists = this.#lists;
    const rec = this.#rec;
    let stamp = 0;
    for (let slot = lists.oldest(LRU); slot !== NIL; ) {
      const newer = lists.newer(slot);
      stamp += this.#slotSpan;
      rec[slot * STRIDE + LINKS] = stamp + slot;
      slot = newer;
    }
    lists.drop(LRU);
    this.#stamp = stamp;
    this.#ordered = false;
  }

  #remove(slot: number): void {
    const key = this.#keys[slot]!;
    const base = slot * STRIDE;
    const meta = this.#rec[base + META]!;
    this.#indexes[meta >>> SPACE_SHIFT]!.delete(key);
    if ((meta & PINNED) === 0) {
      if (this.#ordered) this.#lists.remove(slot, LRU);
    } else {
      this.#lists.remove(slot, PINS);
      this.#pinned--;
    }
    this.#count--;
    this.#keys[slot] = undefined;
    if (this.#objs !== undefined) this.#objs[slot] = undefined;
    this.#rec[base + EXPIRES] = 0;
    this.#rec[base + STATE] = this.#free;
    this.#free = slot;
  }

  #grow(): void {
    const capacity = Math.min(this.maxKeys, Math.max(INITIAL_CAPACITY, this.#capacity * 2));
    const rec = new Float64Array(capacity * STRIDE);
    const links = new Int32Array(rec.buffer);
    links.set(new Int32Array(this.#rec.buffer)); // bit for bit: the links are no doubles
    this.#rec = rec;
    this.#lists.use(links);
    this.#capacity = capacity;
  }
}

/**
 * A concatenated key (`prefix + key`) is a rope V8 keeps alongside its flattened copy
 * once hashed; storing a fresh flat copy instead saves ~32 bytes a key. Only on insert.
 * Shorter strings are never ropes.
 */
const flatten = (key: string): string => (key.length < 13 ? key : (JSON.parse(JSON.stringify(key)) as string));

/**
 * The embedded default store: at most `maxKeys` keys, the least recently used evicted (at
 * most half pinned); a key past its TTL reads as absent.
 */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  return new MemoryStore(options);
}
