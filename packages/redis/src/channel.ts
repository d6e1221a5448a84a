import type { StoreChannel } from '@resilience/core';

type Fn = (...args: never[]) => unknown;
type IoRedisSubscriber = {
  subscribe: (channel: string) => Promise<unknown>;
  unsubscribe: (channel: string) => Promise<unknown>;
  on: (event: 'message', listener: (channel: string, message: string) => void) => unknown;
  evalsha: Fn;
};
type NodeRedisSubscriber = {
  subscribe: (channel: string, listener: (message: string, channel: string) => void) => Promise<unknown>;
  unsubscribe: (channel: string, listener?: (message: string, channel: string) => void) => Promise<unknown>;
  evalSha: Fn;
};

/** Subscribes one channel name at a time on the user's second client; `listener(message)` for each message. */
export interface Subscription {
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
}

const has = (value: unknown, method: string): boolean =>
  typeof value === 'object' && value !== null && typeof (value as Record<string, unknown>)[method] === 'function';

/** The subscription over an ioredis or node-redis client, told apart by shape as the store's client is; else undefined. */
export function subscriptionOf(client: unknown): Subscription | undefined {
  if (!has(client, 'subscribe') || !has(client, 'unsubscribe')) return undefined;
  if (has(client, 'evalsha') && has(client, 'on')) {
    const io = client as IoRedisSubscriber;
    const listeners = new Map<string, (message: string) => void>();
    io.on('message', (channel, message) => listeners.get(channel)?.(message));
    return {
      subscribe: (channel, listener) => {
        listeners.set(channel, listener);
        return io.subscribe(channel);
      },
      unsubscribe: (channel) => {
        listeners.delete(channel);
        return io.unsubscribe(channel);
      },
    };
  }
  if (has(client, 'evalSha')) {
    const node = client as NodeRedisSubscriber;
    const listeners = new Map<string, (message: string, channel: string) => void>();
    return {
      subscribe: (channel, listener) => {
        const own = (message: string) => listener(message);
        listeners.set(channel, own);
        return node.subscribe(channel, own);
      },
      unsubscribe: (channel) => {
        const own = listeners.get(channel);
        listeners.delete(channel);
        return node.unsubscribe(channel, own);
      },
    };
  }
  return undefined;
}

/**
 * Redis pub/sub for the toolkit's announcements (a synchronised breaker's state changes):
 * `PUBLISH` through the store's client, bounded by its `timeoutMs`; `SUBSCRIBE` on the
 * second client, once per topic however many listeners it has in this process. A
 * subscription that fails is dropped quietly: a breaker still reads every change at its
 * next synchronisation. Both clients resubscribe by themselves after a reconnection.
 */
export class RedisChannel implements StoreChannel {
  readonly #publish: (channel: string, message: string) => Promise<unknown>;
  readonly #subscription: Subscription;
  readonly #prefix: string;
  readonly #topics = new Map<string, Set<(message: string) => void>>();

  constructor(
    publish: (channel: string, message: string) => Promise<unknown>,
    subscription: Subscription,
    prefix: string,
  ) {
    this.#publish = publish;
    this.#subscription = subscription;
    this.#prefix = prefix;
  }

  async publish(topic: string, message: string): Promise<void> {
    await this.#publish(this.#prefix + topic, message);
  }

  subscribe(topic: string, listener: (message: string) => void): () => void {
    let listeners = this.#topics.get(topic);
    if (listeners === undefined) {
      const set = new Set<(message: string) => void>();
      listeners = set;
      this.#topics.set(topic, set);
      this.#subscription
        .subscribe(this.#prefix + topic, (message) => {
          for (const l of set) l(message);
        })
        .catch(() => undefined);
    }
    const set = listeners;
    set.add(listener);
    return () => {
      if (!set.delete(listener) || set.size > 0 || this.#topics.get(topic) !== set) return;
      this.#topics.delete(topic);
      this.#subscription.unsubscribe(this.#prefix + topic).catch(() => undefined);
    };
  }
}
