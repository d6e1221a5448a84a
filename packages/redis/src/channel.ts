import type { Clock, Random, StoreChannel, StoreUnavailableError, TimerHandle } from '@resilience/core';
import { processWide } from '@resilience/core/internal';
import { failed } from './failed.js';

type Fn = (...args: never[]) => unknown;
type IoRedisSubscriber = {
  subscribe: (channel: string) => Promise<unknown>;
  unsubscribe: (channel: string) => Promise<unknown>;
  on: (event: string, listener: (channel: string, message: string) => void) => unknown;
  once: (event: string, listener: () => void) => unknown;
  removeListener: (event: string, listener: () => void) => unknown;
  evalsha: Fn;
};
type NodeRedisSubscriber = {
  subscribe: (channel: string, listener: (message: string, channel: string) => void) => Promise<unknown>;
  unsubscribe: (channel: string, listener?: (message: string, channel: string) => void) => Promise<unknown>;
  once?: (event: 'ready', listener: () => void) => unknown;
  off?: (event: 'ready', listener: () => void) => unknown;
  evalSha: Fn;
};

/**
 * Subscribes one channel name at a time on the user's second client; `listener(message)` for
 * each message. `unsubscribe` takes the listener `subscribe` was given: the channel is left
 * when its last listener goes, whichever stores share the client.
 */
export interface Subscription {
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  unsubscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  /** Calls `listener` once, when the client is next ready (connected, or connected again); returns what removes it. */
  onReady(listener: () => void): () => void;
}

const has = (value: unknown, method: string): boolean =>
  typeof value === 'object' && value !== null && typeof (value as Record<string, unknown>)[method] === 'function';

type IoListeners = WeakMap<object, Map<string, Set<(message: string) => void>>>;
/**
 * The listeners of each channel on an ioredis subscriber, for every store over it (one
 * UNSUBSCRIBE must not end another's): on `globalThis`, so the stores of both entries of this
 * package (ESM and CommonJS, two copies) share them. Versioned, should their shape change.
 */
const ioListeners = (): IoListeners => processWide('@resilience/redis:ioListeners.v1', () => new WeakMap());

/** The subscription over an ioredis or node-redis client, told apart by shape as the store's client is; else undefined. */
export function subscriptionOf(client: unknown): Subscription | undefined {
  if (!has(client, 'subscribe') || !has(client, 'unsubscribe')) return undefined;
  if (has(client, 'evalsha') && has(client, 'on')) {
    const io = client as IoRedisSubscriber;
    const shared = ioListeners();
    let listeners = shared.get(io);
    if (listeners === undefined) {
      const all = new Map<string, Set<(message: string) => void>>();
      shared.set(io, (listeners = all));
      io.on('message', (channel, message) => {
        for (const listener of all.get(channel) ?? []) listener(message);
      });
    }
    const own = listeners;
    return {
      subscribe: (channel, listener) => {
        const set = own.get(channel);
        if (set) set.add(listener);
        else own.set(channel, new Set([listener]));
        return io.subscribe(channel);
      },
      unsubscribe: async (channel, listener) => {
        const set = own.get(channel);
        if (!set?.delete(listener) || set.size > 0) return;
        own.delete(channel);
        return io.unsubscribe(channel);
      },
      onReady: (listener) => {
        io.once('ready', listener);
        return () => io.removeListener('ready', listener);
      },
    };
  }
  if (has(client, 'evalSha')) {
    // node-redis keeps each channel's listeners and leaves it when the last one goes.
    const node = client as NodeRedisSubscriber;
    return {
      subscribe: (channel, listener) => node.subscribe(channel, listener),
      unsubscribe: (channel, listener) => node.unsubscribe(channel, listener),
      onReady: (listener) => {
        node.once?.('ready', listener);
        return () => node.off?.('ready', listener);
      },
    };
  }
  return undefined;
}

/** The wait before a failed `SUBSCRIBE` is first sent again; doubled at each failure that follows. */
export const RETRY_FIRST_MS = 1_000;
/** The longest wait between two tries of a failed `SUBSCRIBE`. */
export const RETRY_MAX_MS = 60_000;

type Listener = (message: string) => void;
/** A topic's listeners, held weakly, and the one function that hands them each message. */
type Topic = [Set<WeakRef<Listener>>, Listener];

// Out of `subscribe`, whose closures share one scope: there the function would hold its first listener.
const topicOf = (set: Set<WeakRef<Listener>>): Topic => [
  set,
  (message) => {
    for (const ref of set) ref.deref()?.(message);
  },
];

/**
 * Redis pub/sub for the toolkit's announcements (a synchronised breaker's state changes):
 * `PUBLISH` through the store's client, bounded by its `timeoutMs`; `SUBSCRIBE` on the
 * second client, once per topic however many listeners it has in this process. A
 * `SUBSCRIBE` that fails (a client with no offline queue, not connected yet; an ACL that
 * denies the channel) is reported to each listener's `onError`, as `StoreUnavailableError`
 * (so a breaker emits a `store_error` of step `subscribe`), and sent again when the second
 * client is next ready or after a wait (RETRY_FIRST_MS, doubled at each failure up to
 * RETRY_MAX_MS, less a random part of up to half, on one unref'd timer of the clock),
 * whichever comes first, for as long as
 * the topic has a listener: a grant an operator adds later takes effect without a
 * reconnection. Meanwhile a breaker still reads every change at its next synchronisation.
 * Both clients resubscribe by themselves after a reconnection.
 *
 * A listener is held weakly: only while it, or the stop function `subscribe` returns, is
 * reachable (a breaker holds its stop function). A breaker dropped without `dispose()` is
 * collected, and its topic's last listener gone sends `UNSUBSCRIBE`, so per-request or
 * per-tenant breakers never pile up listeners or channels.
 */
export class RedisChannel implements StoreChannel {
  readonly #publish: (channel: string, message: string) => Promise<unknown>;
  readonly #subscription: Subscription;
  readonly #name: (topic: string) => string;
  readonly #topics = new Map<string, Topic>();
  readonly #failed = new Map<string, StoreUnavailableError>();
  readonly #onError = new WeakMap<Listener, (error: unknown) => void>();
  readonly #clock: Clock;
  readonly #random: Random;
  #waitMs = 0;
  #timer: TimerHandle | undefined = undefined;
  #stopReady: (() => void) | undefined = undefined;
  readonly #gone = new FinalizationRegistry<[string, WeakRef<Listener>]>(([topic, ref]) => this.#drop(topic, ref));

  constructor(
    publish: (channel: string, message: string) => Promise<unknown>,
    subscription: Subscription,
    name: (topic: string) => string,
    clock: Clock,
    random: Random,
  ) {
    // #failed: topics whose SUBSCRIBE failed, with the error (told to a listener that comes later), sent
    // again when the subscriber is next ready or #timer fires (#waitMs, the last wait, doubled at each
    // failure), whichever first; #onError: each listener's, held as long as it is. The `ready` listener
    // (#stopReady removes it) and the timer (#again sets both, #idle removes them) are there only while
    // a topic waits: a store holds no listener on the client otherwise, so stores made per tenant over
    // one subscriber neither pile up nor stay.
    this.#publish = publish;
    this.#subscription = subscription;
    this.#name = name;
    this.#clock = clock;
    this.#random = random;
  }

  readonly #retry = (): void => {
    this.#idle();
    for (const topic of [...this.#failed.keys()]) this.#listen(topic, this.#topics.get(topic)!);
  };

  #idle(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#stopReady?.();
    this.#timer = this.#stopReady = undefined;
  }

  #again(): void {
    if (this.#timer !== undefined) return;
    this.#waitMs = Math.min(Math.max(RETRY_FIRST_MS, this.#waitMs * 2), RETRY_MAX_MS);
    // Up to half less, drawn each time: instances refused together (an ACL change that dropped
    // every subscriber at once) spread their tries instead of sending them all at one instant.
    this.#timer = this.#clock.setTimeout(this.#retry, this.#waitMs - Math.floor((this.#random() * this.#waitMs) / 2));
    (this.#timer as { unref?: () => void }).unref?.(); // never what keeps a process running
    this.#stopReady = this.#subscription.onReady(this.#retry);
  }

  async publish(topic: string, message: string): Promise<void> {
    await this.#publish(this.#name(topic), message);
  }

  subscribe(topic: string, listener: Listener, onError?: (error: unknown) => void): () => void {
    if (onError) this.#onError.set(listener, onError);
    let t = this.#topics.get(topic);
    const ref = new WeakRef(listener);
    if (t === undefined) {
      t = topicOf(new Set([ref]));
      this.#topics.set(topic, t);
      this.#listen(topic, t);
    } else {
      t[0].add(ref);
      // Its topic's SUBSCRIBE failed already: told as the others were, once its maker can listen.
      const earlier = this.#failed.get(topic);
      if (earlier && onError) queueMicrotask(() => onError(earlier));
    }
    this.#gone.register(listener, [topic, ref], listener);
    // Holds `listener` (the unregister token) for as long as it is held.
    return () => {
      this.#gone.unregister(listener);
      this.#drop(topic, ref);
    };
  }

  #drop(topic: string, ref: WeakRef<Listener>): void {
    const t = this.#topics.get(topic);
    if (!t?.[0].delete(ref) || t[0].size > 0) return;
    this.#topics.delete(topic);
    this.#failed.delete(topic);
    if (this.#failed.size === 0) this.#idle();
    this.#subscription.unsubscribe(this.#name(topic), t[1]).catch(() => undefined);
  }

  #listen(topic: string, t: Topic): void {
    // Always t's one dispatcher, so a SUBSCRIBE sent again adds no second listener to the client.
    this.#failed.delete(topic);
    this.#subscription.subscribe(this.#name(topic), t[1]).then(
      () => {
        if (this.#failed.size === 0) this.#waitMs = 0; // the next failure waits the shortest again
      },
      (reason: unknown) => {
        if (this.#topics.get(topic) !== t) return;
        const error = failed(`SUBSCRIBE ${this.#name(topic)}`, reason);
        this.#failed.set(topic, error);
        for (const ref of t[0]) {
          const listener = ref.deref();
          if (listener) this.#onError.get(listener)?.(error);
        }
        this.#again();
      },
    );
  }
}
