import { type Clock, type OptionNames, type Random, systemClock, systemRandom } from '@resilience/core';
import { OptionsValidator } from '@resilience/core/internal';
import { type Subscription, subscriptionOf } from './channel.js';
import { type Connection, connectionOf, keyPrefixOf } from './client.js';

export interface RedisStoreOptions {
  /**
   * Your ioredis `Redis` or `Cluster`, or node-redis (5+) client or cluster, connected or
   * connecting; the store never opens or closes a connection. No ioredis `keyPrefix`: use `prefix`.
   */
  client: object;
  /**
   * Put before every key, with a `:` (`resilience:{rl:api|user-42}`); `''` for none. No
   * braces: a `{` or `}` would change the hash slot of every key.
   * @default 'resilience'
   */
  prefix?: string;
  /**
   * Longest wait for one round trip (each SCAN step of `keys`), whatever the client's own
   * timeouts; past it the operation rejects with `StoreUnavailableError` (the command may
   * still run later).
   * @default 200
   */
  timeoutMs?: number;
  /**
   * Whose clock a script uses as `now`: `'server'` reads Redis's `TIME` in the script, so
   * instances whose clocks differ agree on every limit, lock and lease; `'caller'` uses the
   * `now` each call passes (deterministic, as the conformance suite needs). See docs/redis.md.
   * @default 'server'
   */
  time?: 'server' | 'caller';
  /** The timers of `timeoutMs` and of a failed `SUBSCRIBE`'s retries. @default systemClock */
  clock?: Clock;
  /** Draws the jitter of a failed `SUBSCRIBE`'s retries (up to half of each wait less). @default systemRandom */
  random?: Random;
  /**
   * A second client of the same server or cluster (`client.duplicate()`, connected), used
   * only to `SUBSCRIBE`: synchronised breakers then follow each other at once instead of
   * within `syncMs`. A subscribed connection can run nothing else: never pass `client` itself.
   */
  subscriber?: object;
}

/** Every option `redisStore` takes; any other name is rejected. */
export const REDIS_STORE_OPTION_NAMES = {
  client: true,
  prefix: true,
  timeoutMs: true,
  time: true,
  clock: true,
  random: true,
  subscriber: true,
} as const satisfies OptionNames<RedisStoreOptions>;

export const REDIS_STORE_DEFAULTS = { prefix: 'resilience', timeoutMs: 200, time: 'server' } as const;

export interface ResolvedRedisStoreOptions {
  readonly connection: Connection;
  /** `<prefix>:`, or `''`. */
  readonly keyPrefix: string;
  readonly timeoutMs: number;
  readonly time: 'server' | 'caller';
  readonly clock: Clock;
  readonly random: Random;
  readonly subscription: Subscription | undefined;
}

const isPlain = (value: unknown): value is object =>
  typeof value === 'object' && value !== null && [null, Object.prototype].includes(Object.getPrototypeOf(value));

/** What an issue shows of a value: an object by its kind only (a client's options hold the server's password). */
const shown = (value: unknown): unknown =>
  isPlain(value)
    ? `an object {${Object.keys(value)}}`
    : typeof value !== 'object' || value === null
      ? value
      : connectionOf(value)
        ? 'a Redis client'
        : `an instance of ${value.constructor?.name}`;

export function resolveRedisStoreOptions(options: RedisStoreOptions): ResolvedRedisStoreOptions {
  const v = new OptionsValidator('redisStore');
  const o: Partial<RedisStoreOptions> = isPlain(options) ? options : {};
  const seen =
    o === options ? Object.fromEntries(Object.entries(o).map(([name, value]) => [name, shown(value)])) : shown(options);
  v.known(seen as RedisStoreOptions, REDIS_STORE_OPTION_NAMES);
  const connection = connectionOf(o.client);
  v.required('client', o.client).check(
    o.client === undefined || connection !== undefined,
    'client',
    shown(o.client),
    'an ioredis Redis or Cluster, or a node-redis client or cluster',
  );
  const clientPrefix = keyPrefixOf(o.client);
  v.check(
    !clientPrefix,
    'client',
    `an ioredis client with keyPrefix ${JSON.stringify(clientPrefix)}`,
    'no keyPrefix (set prefix instead)',
  );
  v.check(
    o.prefix === undefined || (typeof o.prefix === 'string' && !/[{}]/.test(o.prefix)),
    'prefix',
    o.prefix,
    'text without { or } (they would move keys to other hash slots)',
  );
  v.number('timeoutMs', o.timeoutMs, { gt: 0 });
  v.oneOf('time', o.time, ['server', 'caller']);
  v.clock('clock', o.clock);
  v.predicate('random', o.random);
  const subscription = o.subscriber === undefined ? undefined : subscriptionOf(o.subscriber);
  v.check(
    o.subscriber === undefined || (subscription !== undefined && o.subscriber !== o.client),
    'subscriber',
    o.subscriber === o.client && o.client !== undefined ? 'the store’s own client' : shown(o.subscriber),
    'a second ioredis or node-redis client of the same server (client.duplicate()), not the store’s client',
  );
  v.done();
  const prefix = o.prefix ?? REDIS_STORE_DEFAULTS.prefix;
  return {
    connection: connection!,
    keyPrefix: prefix === '' ? '' : `${prefix}:`,
    timeoutMs: o.timeoutMs ?? REDIS_STORE_DEFAULTS.timeoutMs,
    time: o.time ?? REDIS_STORE_DEFAULTS.time,
    clock: o.clock ?? systemClock,
    random: o.random ?? systemRandom,
    subscription,
  };
}
