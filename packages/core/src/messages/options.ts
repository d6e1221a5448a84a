import type { Clock, Random } from '../clock/clock.js';
import { type OptionNames, OptionsValidator } from '../errors/validate.js';
import { type Backoff, backoff } from '../retry/backoff.js';
import { storeNamespace } from '../store/namespace.js';
import type { Store } from '../store/store.js';
import { isStore } from '../store/store.js';

/** Why a message was set aside. */
export type DeadLetterReason = 'poison' | 'max_retries_exceeded';

/** What the dead-letter sink receives with the message. */
export interface DeadLetterInfo {
  readonly reason: DeadLetterReason;
  /** Attempts made on this message, this one included. */
  readonly attempts: number;
  /** The last attempt's error (`undefined` when earlier attempts never finished, e.g. a crash). */
  readonly error: unknown;
  /** A sentence for humans: what failed and why retrying will not help. */
  readonly description: string;
}

/** What the handler receives with the message. */
export interface MessageContext {
  /** Aborted at the soft time limit (and at the hard one). */
  readonly signal: AbortSignal;
  /** 1 for the first delivery, counted per message id across processes through the store. */
  readonly attempt: number;
}

export interface MessageProcessorOptions<M> {
  /** Processes one message. Throwing fails the attempt. */
  handler: (message: M, context: MessageContext) => unknown;
  /** Receives messages set aside, once per id. If it throws or rejects, so does `process`: the queue redelivers. */
  deadLetter: (message: M, info: DeadLetterInfo) => unknown;
  /** Deliveries of one message id before it is dead-lettered, the first included. @default 3 */
  maxAttempts?: number;
  /**
   * Whether an error means the message itself is bad (no retry can help); `undefined`
   * leaves it to the built-in rule (`validation` errors). See docs/messages.md.
   */
  isPoison?: (error: unknown, message: M) => boolean | undefined;
  /**
   * Where attempt counters live, per message id. Share it (e.g. Redis) between consumers
   * so attempts are counted across them. @default memoryStore() (100 000 keys, LRU)
   */
  store?: Store;
  /** How long an attempt counter is kept after the last attempt. @default 3_600_000 (1 h) */
  retryTtlMs?: number;
  /** The lease of a delivery's claim on dead-lettering an id, renewed while the sink runs. @default 30_000 (30 s) */
  deadLetterLeaseMs?: number;
  /** After this long the handler's signal is aborted (it should stop cooperatively). None by default. */
  softTimeoutMs?: number;
  /** After this long (below `retryTtlMs`) the attempt fails as transient (`TimeoutError`), whatever the handler does. None by default. */
  hardTimeoutMs?: number;
  /** The message's id (a string or a finite number; else it is poison). @default message.id */
  idOf?: (message: M) => string | number;
  /** The counters' namespace: `{msg:<keyPrefix>|<id>}`. @default 'default' */
  keyPrefix?: string;
  /**
   * The delay a `'retry'` answer suggests, by attempts so far (`delay(1)` first); its `maxMs`
   * must be below `retryTtlMs`.
   * @default backoff.exponential({ initialMs: 1_000, maxMs: 60_000 }) cut to `retryTtlMs / 2`
   */
  retryBackoff?: Backoff;
  /** Stamped on every event as `policy`. @default 'message-processor' */
  name?: string;
  clock?: Clock;
  /** The random source of a jittered `retryBackoff`. @default Math.random */
  random?: Random;
}

/** Every option `messageProcessor` takes; any other name is rejected. */
export const MESSAGE_PROCESSOR_OPTION_NAMES = {
  handler: true,
  deadLetter: true,
  maxAttempts: true,
  isPoison: true,
  store: true,
  retryTtlMs: true,
  softTimeoutMs: true,
  hardTimeoutMs: true,
  deadLetterLeaseMs: true,
  idOf: true,
  keyPrefix: true,
  retryBackoff: true,
  name: true,
  clock: true,
  random: true,
} as const satisfies OptionNames<MessageProcessorOptions<unknown>>;

export const MESSAGE_PROCESSOR_DEFAULTS = {
  maxAttempts: 3,
  retryTtlMs: 3_600_000,
  deadLetterLeaseMs: 30_000,
  keyPrefix: 'default',
  name: 'message-processor',
  /** `retryBackoff`: 1 s, 2 s, 4 s ... up to 60 s. */
  retryBackoff: { initialMs: 1_000, multiplier: 2, maxMs: 60_000 },
} as const;

export interface ResolvedMessageProcessorOptions {
  maxAttempts: number;
  retryTtlMs: number;
  deadLetterLeaseMs: number;
  softTimeoutMs: number | undefined;
  hardTimeoutMs: number | undefined;
  keyPrefix: string;
  retryBackoff: Backoff;
  name: string;
}

/** The default `retryBackoff`, its delays kept under half the counter's lifetime. */
function defaultRetryBackoff(retryTtlMs: number): Backoff {
  const { initialMs, multiplier, maxMs } = MESSAGE_PROCESSOR_DEFAULTS.retryBackoff;
  const cap = Math.min(maxMs, retryTtlMs / 2);
  return backoff.exponential({ initialMs: Math.min(initialMs, cap), multiplier, maxMs: cap });
}

const isBackoff = (value: unknown): value is Backoff =>
  typeof (value as Backoff | null)?.delay === 'function' && typeof (value as Backoff).maxMs === 'number';

export function resolveMessageProcessorOptions<M>(
  options: MessageProcessorOptions<M>,
): ResolvedMessageProcessorOptions {
  const v = new OptionsValidator('messageProcessor');
  const o = v.known(options, MESSAGE_PROCESSOR_OPTION_NAMES);
  v.required('handler', o.handler).function('handler', o.handler);
  v.required('deadLetter', o.deadLetter).function('deadLetter', o.deadLetter);
  v.integer('maxAttempts', o.maxAttempts, { min: 1 });
  v.predicate('isPoison', o.isPoison);
  v.predicate('idOf', o.idOf); // an async one answers no id: every message would be poison
  v.check(o.store === undefined || isStore(o.store), 'store', o.store, 'a Store');
  v.number('retryTtlMs', o.retryTtlMs, { gt: 0 });
  v.number('deadLetterLeaseMs', o.deadLetterLeaseMs, { gt: 0 });
  v.number('softTimeoutMs', o.softTimeoutMs, { gt: 0 });
  v.number('hardTimeoutMs', o.hardTimeoutMs, { gt: 0 });
  if (typeof o.softTimeoutMs === 'number' && typeof o.hardTimeoutMs === 'number') {
    v.check(
      o.hardTimeoutMs >= o.softTimeoutMs,
      'hardTimeoutMs',
      o.hardTimeoutMs,
      `>= softTimeoutMs (${o.softTimeoutMs})`,
    );
  }
  v.string('keyPrefix', o.keyPrefix);
  v.string('name', o.name);
  v.check(o.retryBackoff === undefined || isBackoff(o.retryBackoff), 'retryBackoff', o.retryBackoff, 'a Backoff');
  const retryTtlMs = o.retryTtlMs ?? MESSAGE_PROCESSOR_DEFAULTS.retryTtlMs;
  const retryBackoff = isBackoff(o.retryBackoff)
    ? o.retryBackoff
    : defaultRetryBackoff(typeof retryTtlMs === 'number' && retryTtlMs > 0 ? retryTtlMs : Number.POSITIVE_INFINITY);
  // Compared only when each is sound: a bad retryTtlMs is reported on its own, not again as
  // the backoff's, and a Symbol throws in a comparison.
  if (!v.issues.length) {
    v.check(
      retryBackoff.maxMs < retryTtlMs,
      'retryBackoff',
      `a backoff up to ${retryBackoff.maxMs} ms`,
      `a backoff whose maxMs is below retryTtlMs (${retryTtlMs}), so the attempt counter outlives the delay`,
    );
    v.check(
      !(o.hardTimeoutMs! >= retryTtlMs),
      'hardTimeoutMs',
      o.hardTimeoutMs,
      `a number below retryTtlMs (${retryTtlMs}), or the attempt counter expires while an attempt runs and its attempts count from 1 again`,
    );
  }
  v.clock('clock', o.clock);
  v.predicate('random', o.random);
  v.done();
  return {
    maxAttempts: o.maxAttempts ?? MESSAGE_PROCESSOR_DEFAULTS.maxAttempts,
    retryTtlMs,
    retryBackoff,
    name: o.name ?? MESSAGE_PROCESSOR_DEFAULTS.name,
    deadLetterLeaseMs: o.deadLetterLeaseMs ?? MESSAGE_PROCESSOR_DEFAULTS.deadLetterLeaseMs,
    softTimeoutMs: o.softTimeoutMs,
    hardTimeoutMs: o.hardTimeoutMs,
    keyPrefix: storeNamespace('msg', o.keyPrefix ?? MESSAGE_PROCESSOR_DEFAULTS.keyPrefix),
  };
}
