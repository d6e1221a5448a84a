import { type MemoryStoreOptions, resolveMemoryStoreOptions } from './options.js';
import {
  PACKED_MAX_WIDTH,
  type PackedCodec,
  type PackedTransition,
  type Store,
  type StoreKeysOptions,
  type StoreOperation,
  type Transition,
} from './store.js';

const NIL = -1;
const GENERIC = 0;
const STRIDE = PACKED_MAX_WIDTH;
const SCRATCH = PACKED_MAX_WIDTH + 2;
const INITIAL_CAPACITY = 1024;
const MAX_PACKERS = 255;

// biome-ignore lint/suspicious/noExplicitAny: the store holds transitions of every type.
type AnyPacked = PackedTransition<any, any, any>;
// biome-ignore lint/suspicious/noExplicitAny: the store holds states of every type.
type AnyCodec = PackedCodec<any>;

/**
 * The embedded store: state lives in this process, every operation is synchronous inside
 * (so atomic), and the promise it returns is already settled.
 *
 * Layout: a `Map` from key to slot number; per slot, the key, its expiry, its place in
 * an LRU list and its state. Numeric states of packed transitions (rate limits) sit in a
 * `Float64Array` slab, other states as the objects themselves. Memory is bounded by
 * `maxKeys` (LRU eviction); keys past their TTL read as absent and are reclaimed as the
 * LRU tail is passed or by {@link MemoryStore.sweep}.
 */
export class MemoryStore implements Store {
  readonly maxKeys: number;
  readonly #index = new Map<string, number>();
  #capacity = 0;
  #used = 0;
  #free: number = NIL;
  #keys: (string | undefined)[] = [];
  #expires = new Float64Array(0);
  #prev = new Int32Array(0);
  #next = new Int32Array(0);
  #kind = new Uint8Array(0);
  #nums = new Float64Array(0);
  #objs: unknown[] | undefined;
  #head = NIL; // most recently used
  #tail = NIL; // least recently used
  readonly #packers: AnyCodec[] = [];
  readonly #packerIds = new Map<AnyCodec, number>();
  readonly #scratch = new Float64Array(SCRATCH);
  #multi = new Float64Array(SCRATCH * 4);

  constructor(options: MemoryStoreOptions = {}) {
    this.maxKeys = resolveMemoryStoreOptions(options).maxKeys;
  }

  /** Live and not-yet-reclaimed expired keys. */
  get size(): number {
    return this.#index.size;
  }

  apply<S, I, O>(key: string, transition: Transition<S, I, O>, input: I, now: number): Promise<O> {
    try {
      return Promise.resolve(this.applySync(key, transition, input, now));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** {@link Store.apply} without the promise, for in-process callers. */
  applySync<S, I, O>(key: string, transition: Transition<S, I, O>, input: I, now: number): O {
    let slot = this.#index.get(key);
    if (slot !== undefined && this.#expires[slot]! <= now) {
      this.#remove(slot);
      slot = undefined;
    }
    const packed = transition.packed;
    const id = packed === undefined ? GENERIC : this.#packerId(packed);
    if (id !== GENERIC && (slot === undefined || this.#kind[slot] === id)) {
      const p = packed as AnyPacked;
      const next = this.#scratch;
      const output = p.step(this.#nums, slot === undefined ? 0 : slot * STRIDE, slot === undefined, input, now, next);
      const width = p.codec.width;
      const ttlMs = next[width]!;
      if (!Number.isNaN(ttlMs)) {
        if (ttlMs <= 0) {
          if (slot !== undefined) this.#remove(slot);
          return output as O;
        }
        if (slot === undefined) slot = this.#insert(key, id, now);
        else this.#touch(slot);
        const at = slot * STRIDE;
        for (let i = 0; i < width; i++) this.#nums[at + i] = next[i]!;
        this.#expires[slot] = now + ttlMs;
      } else if (slot !== undefined) this.#touch(slot);
      return output as O;
    }
    const result = transition.apply(this.#read(slot) as S | undefined, input, now);
    if (result.write !== false) this.#write(key, slot, result.state, result.ttlMs, now, id, packed);
    else if (slot !== undefined) this.#touch(slot);
    return result.output;
  }

  applyAll(operations: readonly StoreOperation[], now: number): Promise<unknown[]> {
    try {
      return Promise.resolve(this.applyAllSync(operations, now));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** {@link Store.applyAll} without the promise. */
  applyAllSync(operations: readonly StoreOperation[], now: number): unknown[] {
    const n = operations.length;
    if (this.#multi.length < n * SCRATCH) this.#multi = new Float64Array(n * SCRATCH * 2);
    const multi = this.#multi;
    const outputs: unknown[] = new Array(n);
    const results: ({ state: unknown; ttlMs: number; write?: boolean } | undefined)[] = new Array(n);
    const slots: (number | undefined)[] = new Array(n);
    let accepted = true;
    for (let k = 0; k < n; k++) {
      const op = operations[k]!;
      for (let j = 0; j < k; j++) {
        if (operations[j]!.key === op.key) throw new TypeError(`applyAll: key "${op.key}" appears twice`);
      }
      let slot = this.#index.get(op.key);
      if (slot !== undefined && this.#expires[slot]! <= now) {
        this.#remove(slot);
        slot = undefined;
      }
      slots[k] = slot;
      const packed = op.transition.packed;
      const id = packed === undefined ? GENERIC : this.#packerId(packed);
      if (id !== GENERIC && (slot === undefined || this.#kind[slot] === id)) {
        const p = packed as AnyPacked;
        this.#scratch.fill(0);
        outputs[k] = p.step(
          this.#nums,
          slot === undefined ? 0 : slot * STRIDE,
          slot === undefined,
          op.input,
          now,
          this.#scratch,
        );
        multi.set(this.#scratch, k * SCRATCH);
        if (this.#scratch[p.codec.width + 1] === 0) accepted = false;
      } else {
        const result = op.transition.apply(this.#read(slot), op.input, now);
        outputs[k] = result.output;
        results[k] = result;
        if (result.accepted === false) accepted = false;
      }
    }
    // Touch every existing key first so inserting a new one cannot evict one of them.
    for (const slot of slots) if (slot !== undefined) this.#touch(slot);
    if (!accepted) return outputs;
    for (let k = 0; k < n; k++) {
      const op = operations[k]!;
      const slot = slots[k];
      const result = results[k];
      const packed = op.transition.packed;
      if (result !== undefined) {
        if (result.write !== false)
          this.#write(
            op.key,
            slot,
            result.state,
            result.ttlMs,
            now,
            packed === undefined ? GENERIC : this.#packerId(packed),
            packed,
          );
        else if (slot !== undefined) this.#touch(slot);
        continue;
      }
      const p = packed as AnyPacked;
      const base = k * SCRATCH;
      const width = p.codec.width;
      const ttlMs = multi[base + width]!;
      if (Number.isNaN(ttlMs)) {
        if (slot !== undefined) this.#touch(slot);
        continue;
      }
      if (ttlMs <= 0) {
        if (slot !== undefined) this.#remove(slot);
        continue;
      }
      const s = slot ?? this.#insert(op.key, this.#packerId(p), now);
      if (slot !== undefined) this.#touch(s);
      for (let i = 0; i < width; i++) this.#nums[s * STRIDE + i] = multi[base + i]!;
      this.#expires[s] = now + ttlMs;
    }
    return outputs;
  }

  get<S>(key: string, now: number): Promise<S | undefined> {
    return Promise.resolve(this.getSync<S>(key, now));
  }

  /** {@link Store.get} without the promise. Does not refresh the key's LRU position. */
  getSync<S>(key: string, now: number): S | undefined {
    const slot = this.#index.get(key);
    if (slot === undefined) return undefined;
    if (this.#expires[slot]! <= now) {
      this.#remove(slot);
      return undefined;
    }
    return this.#read(slot) as S;
  }

  set<S>(key: string, state: S, ttlMs: number, now: number): Promise<void> {
    const slot = this.#index.get(key);
    this.#write(key, slot, state, ttlMs, now, GENERIC, undefined);
    return Promise.resolve();
  }

  delete(key: string): Promise<boolean> {
    const slot = this.#index.get(key);
    if (slot !== undefined) this.#remove(slot);
    return Promise.resolve(slot !== undefined);
  }

  keys(prefix: string, now: number, options: StoreKeysOptions = {}): Promise<string[]> {
    const limit = options.limit ?? 1000;
    const out: string[] = [];
    for (const [key, slot] of this.#index) {
      if (out.length >= limit) break;
      if (key.startsWith(prefix) && this.#expires[slot]! > now) out.push(key);
    }
    return Promise.resolve(out);
  }

  /** Drops every key whose TTL has passed; returns how many. O(keys). */
  sweep(now: number): number {
    let dropped = 0;
    for (const slot of this.#index.values()) {
      if (this.#expires[slot]! <= now) {
        this.#remove(slot);
        dropped++;
      }
    }
    return dropped;
  }

  /** Deletes every key. */
  clear(): void {
    this.#index.clear();
    this.#capacity = 0;
    this.#used = 0;
    this.#free = NIL;
    this.#head = this.#tail = NIL;
    this.#keys = [];
    this.#objs = undefined;
    this.#grow(0);
  }

  #packerId(packed: AnyPacked): number {
    const codec = packed.codec;
    const id = this.#packerIds.get(codec);
    if (id !== undefined) return id;
    if (this.#packers.length >= MAX_PACKERS || codec.width > PACKED_MAX_WIDTH) return GENERIC;
    this.#packers.push(codec);
    this.#packerIds.set(codec, this.#packers.length);
    return this.#packers.length;
  }

  #read(slot: number | undefined): unknown {
    if (slot === undefined) return undefined;
    const kind = this.#kind[slot]!;
    if (kind === GENERIC) return this.#objs?.[slot];
    return this.#packers[kind - 1]!.unpack(this.#nums, slot * STRIDE);
  }

  #write(
    key: string,
    slot: number | undefined,
    state: unknown,
    ttlMs: number,
    now: number,
    id: number,
    packed: AnyPacked | undefined,
  ): void {
    if (state === undefined || !(ttlMs > 0)) {
      if (slot !== undefined) this.#remove(slot);
      return;
    }
    let s = slot;
    if (s === undefined) s = this.#insert(key, id, now);
    else this.#touch(s);
    this.#expires[s] = now + ttlMs;
    if (id !== GENERIC && packed !== undefined) {
      this.#kind[s] = id;
      if (this.#objs !== undefined) this.#objs[s] = undefined;
      packed.codec.pack(state, this.#nums, s * STRIDE);
    } else {
      this.#kind[s] = GENERIC;
      if (this.#objs === undefined) this.#objs = new Array(this.#capacity);
      this.#objs[s] = state;
    }
  }

  #insert(key: string, kind: number, now: number): number {
    // Reclaim an expired LRU tail (idle keys back to "no state"), then evict the LRU key when full.
    if (this.#tail !== NIL && this.#expires[this.#tail]! <= now) this.#remove(this.#tail);
    if (this.#index.size >= this.maxKeys) this.#remove(this.#tail);
    let slot: number;
    if (this.#free !== NIL) {
      slot = this.#free;
      this.#free = this.#next[slot]!;
    } else {
      if (this.#used === this.#capacity)
        this.#grow(Math.min(this.maxKeys, Math.max(INITIAL_CAPACITY, this.#capacity * 2)));
      slot = this.#used++;
    }
    this.#keys[slot] = key;
    this.#kind[slot] = kind;
    this.#index.set(key, slot);
    this.#linkFront(slot);
    return slot;
  }

  #remove(slot: number): void {
    const key = this.#keys[slot]!;
    this.#index.delete(key);
    this.#keys[slot] = undefined;
    if (this.#objs !== undefined) this.#objs[slot] = undefined;
    this.#unlink(slot);
    this.#next[slot] = this.#free;
    this.#free = slot;
  }

  #touch(slot: number): void {
    if (this.#head === slot) return;
    this.#unlink(slot);
    this.#linkFront(slot);
  }

  #linkFront(slot: number): void {
    this.#prev[slot] = NIL;
    this.#next[slot] = this.#head;
    if (this.#head !== NIL) this.#prev[this.#head] = slot;
    this.#head = slot;
    if (this.#tail === NIL) this.#tail = slot;
  }

  #unlink(slot: number): void {
    const p = this.#prev[slot]!;
    const n = this.#next[slot]!;
    if (p !== NIL) this.#next[p] = n;
    else this.#head = n;
    if (n !== NIL) this.#prev[n] = p;
    else this.#tail = p;
  }

  #grow(capacity: number): void {
    const copy = <T extends Float64Array | Int32Array | Uint8Array>(old: T, make: (n: number) => T, per = 1): T => {
      const fresh = make(capacity * per);
      fresh.set(old.subarray(0, Math.min(old.length, capacity * per)));
      return fresh;
    };
    this.#expires = copy(this.#expires, (n) => new Float64Array(n));
    this.#prev = copy(this.#prev, (n) => new Int32Array(n));
    this.#next = copy(this.#next, (n) => new Int32Array(n));
    this.#kind = copy(this.#kind, (n) => new Uint8Array(n));
    this.#nums = copy(this.#nums, (n) => new Float64Array(n), STRIDE);
    this.#capacity = capacity;
  }
}

/**
 * The embedded default store. Bounded: at most `maxKeys` keys (LRU eviction); keys whose
 * TTL has passed (a rate limit back to full, an expired record) read as absent.
 *
 * @example
 * const limiter = rateLimiter({ algorithm: tokenBucket({ capacity: 60, refillPerSecond: 1 }), store: memoryStore({ maxKeys: 50_000 }) });
 */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  return new MemoryStore(options);
}
