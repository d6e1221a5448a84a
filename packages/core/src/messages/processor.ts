import { type Clock, type Random, systemClock, systemRandom, type TimerHandle } from '../clock/clock.js';
import { classify } from '../errors/classify.js';
import { messageOf, TimeoutError } from '../errors/errors.js';
import { Emitter } from '../events/emitter.js';
import { copied, cutText } from '../metrics/names.js';
import { neverAborted } from '../policy/policy.js';
import { delayOf } from '../retry/backoff.js';
import { keepRenewing } from '../store/lease.js';
import { memoryStore } from '../store/memory.js';
import { storeKey } from '../store/namespace.js';
import type { Store } from '../store/store.js';
import { requireSupport, storeStep } from '../store/supports.js';
import {
  attemptTransition,
  claimTransition,
  deadTransition,
  doneTransition,
  failedTransition,
  releaseTransition,
} from './counter.js';
import {
  type DeadLetterReason,
  type MessageProcessorOptions,
  type ResolvedMessageProcessorOptions,
  resolveMessageProcessorOptions,
} from './options.js';

/** What the queue should do with the message: acknowledge it (`done`, `dead_lettered`) or redeliver it (`retry`). */
export type ProcessOutcome = 'done' | 'retry' | 'dead_lettered';

/**
 * What `process` answers: the outcome and, with `'retry'`, how long to hold the redelivery
 * back (`retryBackoff`), for queues that can delay it (SQS visibility, a delayed nack).
 */
export type ProcessResult =
  | { readonly outcome: 'done' | 'dead_lettered' }
  | { readonly outcome: 'retry'; readonly retryDelayMs: number };

/** What a processor reports, each stamped with its `name` as `policy` (docs/messages.md, Behaviour). */
export type MessageProcessorEvent =
  | {
      readonly type: 'dead_lettered';
      readonly policy: string;
      readonly id?: string;
      readonly reason: DeadLetterReason;
      readonly attempts: number;
    }
  | {
      readonly type: 'timeout';
      readonly policy: string;
      readonly id: string;
      readonly attempt: number;
      readonly limit: 'soft' | 'hard';
      readonly timeoutMs: number;
    }
  | { readonly type: 'callback_failed'; readonly policy: string; callback: 'isPoison'; id: string; error: unknown };

const DONE: ProcessResult = /* @__PURE__ */ Object.freeze({ outcome: 'done' });
const DEAD_LETTERED: ProcessResult = /* @__PURE__ */ Object.freeze({ outcome: 'dead_lettered' });

export interface MessageProcessorStats {
  /** Messages handled successfully. */
  processed: number;
  /** Failed attempts returned as `retry`. */
  retried: number;
  /** Messages handed to the dead-letter sink, by reason. */
  deadLettered: Record<DeadLetterReason, number>;
  /** Redeliveries of messages already dead-lettered (acknowledged without sinking again). */
  duplicates: number;
  /** Deliveries returned as `retry` because another delivery of the id was being dead-lettered. */
  concurrentDeadLetters: number;
  /** Dead-letter sink failures (each made `process` reject). */
  sinkFailures: number;
  /** Attempts that reached the soft and the hard time limit. */
  softTimeouts: number;
  hardTimeouts: number;
}

/**
 * A failure's text, cut to 1 000 characters: it is kept in the store per id and goes into the
 * sink's description (an error that echoes a huge payload must not). `messageOf`: a thrown
 * value without a string form (Object.create(null)) must not make `process` reject.
 */
const text = (error: unknown): string => {
  let told: string;
  try {
    told = error instanceof Error ? `${error.name}: ${error.message}` : messageOf(error);
  } catch {
    told = messageOf(error);
  }
  return copied(cutText(told, 1_000));
};

function poisonWhy(error: unknown, byUser: boolean): string {
  if (byUser) return 'isPoison() marked the error as one retrying cannot fix';
  const name = error instanceof Error ? error.name : '';
  if (name === 'SyntaxError') return 'the payload is malformed (bad JSON or encoding)';
  if (name === 'TypeError') return 'a field is missing or has the wrong type';
  return 'the message failed validation';
}

/** Runs a handler over queue messages: poison is dead-lettered at once, other failures after `maxAttempts`. See {@link messageProcessor}. */
export class MessageProcessor<M> {
  readonly store: Store;
  readonly name: string;
  readonly #opts: ResolvedMessageProcessorOptions;
  readonly #handler: MessageProcessorOptions<M>['handler'];
  readonly #sink: MessageProcessorOptions<M>['deadLetter'];
  readonly #isPoison: MessageProcessorOptions<M>['isPoison'];
  readonly #idOf: MessageProcessorOptions<M>['idOf'];
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #attempt: ReturnType<typeof attemptTransition>;
  readonly #failed: ReturnType<typeof failedTransition>;
  readonly #dead: ReturnType<typeof deadTransition>;
  readonly #claim: ReturnType<typeof claimTransition>;
  readonly #release: ReturnType<typeof releaseTransition>;
  readonly #done = doneTransition();
  readonly #events = new Emitter<MessageProcessorEvent>();
  readonly #stats: MessageProcessorStats = {
    processed: 0,
    retried: 0,
    deadLettered: { poison: 0, max_retries_exceeded: 0 },
    duplicates: 0,
    concurrentDeadLetters: 0,
    sinkFailures: 0,
    softTimeouts: 0,
    hardTimeouts: 0,
  };

  /** Events of this processor (nothing is built when nobody listens). */
  readonly onEvent = this.#events.subscribe;

  constructor(options: MessageProcessorOptions<M>) {
    this.#opts = resolveMessageProcessorOptions(options);
    this.#handler = options.handler;
    this.#sink = options.deadLetter;
    this.#isPoison = options.isPoison;
    this.#idOf = options.idOf;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? systemRandom;
    this.name = this.#opts.name;
    this.store = options.store ?? memoryStore();
    this.#attempt = attemptTransition(this.#opts.retryTtlMs);
    this.#failed = failedTransition(this.#opts.retryTtlMs);
    this.#dead = deadTransition(this.#opts.retryTtlMs);
    this.#claim = claimTransition(this.#opts.retryTtlMs, this.#opts.deadLetterLeaseMs);
    this.#release = releaseTransition(this.#opts.retryTtlMs);
    requireSupport('messageProcessor', this.store, [
      this.#attempt,
      this.#failed,
      this.#dead,
      this.#claim,
      this.#release,
      this.#done,
    ]);
  }

  /** A copy of the counters since construction. */
  get stats(): MessageProcessorStats {
    return { ...this.#stats, deadLettered: { ...this.#stats.deadLettered } };
  }

  /**
   * Processes one delivery; resolves with what the queue should do, rejects only when the
   * dead-letter sink or the store fails.
   */
  async process(message: M): Promise<ProcessResult> {
    let id: unknown;
    try {
      id = this.#idOf ? this.#idOf(message) : (message as { id?: unknown } | null | undefined)?.id;
    } catch (error) {
      return this.#deadLetter(
        message,
        undefined,
        'poison',
        1,
        error,
        `The message's id could not be read (${text(error)}).`,
      );
    }
    // A finite number or a non-empty string: `NaN` or an object would share one counter with
    // every other; an id over 1 024 characters would cost its length in the store for each one sent.
    if (!(typeof id === 'string' ? id.length > 0 && id.length <= 1_024 : Number.isFinite(id))) {
      const why = typeof id === 'string' && id.length > 0 ? 'an id over 1 024 characters' : 'no id';
      return this.#deadLetter(
        message,
        undefined,
        'poison',
        1,
        new TypeError(`message has ${why}`),
        `The message has ${why}, so its attempts cannot be counted.`,
      );
    }
    const messageId = String(id);
    // The sink's description names a long id by its start: it must fit a queue's message limit.
    const shown = messageId.length > 200 ? `${cutText(messageId, 200)}…` : messageId;
    const key = storeKey(this.#opts.keyPrefix, messageId);
    const { maxAttempts } = this.#opts;
    const begun = await this.store.apply(key, this.#attempt, null, this.#clock.now());
    if (begun.dead !== undefined) {
      this.#stats.duplicates++;
      return DEAD_LETTERED;
    }
    if (begun.sinking) {
      this.#stats.concurrentDeadLetters++;
      return this.#retry(begun.attempt);
    }
    if (begun.owe !== undefined) {
      // An earlier delivery was dead-lettering it and did not finish (its sink failed, it
      // crashed, or its mark failed): sink the message as it was going to, without running it.
      const description = `Message ${shown} was being dead-lettered (${begun.owe}) by a delivery that did not finish (its sink failed, or it stopped). Last error: ${begun.last ?? 'none recorded'}.`;
      return this.#deadLetter(message, messageId, begun.owe, begun.attempt, undefined, description);
    }
    if (begun.attempt > maxAttempts) {
      // Earlier attempts did not finish here (a crash, or a sink that failed): do not run again.
      const last = begun.last === undefined ? 'none recorded' : begun.last;
      const description = `Message ${shown} was delivered ${begun.attempt} times; the last ${begun.attempt - maxAttempts} did not finish, past maxAttempts (${maxAttempts}). Last error: ${last}.`;
      return this.#deadLetter(message, messageId, 'max_retries_exceeded', begun.attempt, undefined, description);
    }
    try {
      await this.#run(message, messageId, begun.attempt);
    } catch (error) {
      const verdict = this.#verdict(error, message, messageId);
      if (verdict ?? classify(error) === 'validation') {
        const description = `Message ${shown} is poison: ${poisonWhy(error, verdict === true)}, so retrying cannot fix it. Error: ${text(error)}.`;
        return this.#deadLetter(message, messageId, 'poison', begun.attempt, error, description);
      }
      if (begun.attempt >= maxAttempts) {
        const description = `Message ${shown} failed ${begun.attempt} of ${maxAttempts} attempts (maxAttempts). Last error: ${text(error)}.`;
        return this.#deadLetter(message, messageId, 'max_retries_exceeded', begun.attempt, error, description);
      }
      await this.store.apply(key, this.#failed, { last: text(error) }, this.#clock.now());
      this.#stats.retried++;
      return this.#retry(begun.attempt);
    }
    this.#stats.processed++;
    try {
      await this.store.apply(key, this.#done, null, this.#clock.now());
    } catch {
      // The work is done; the counter expires after retryTtlMs anyway.
    }
    return DONE;
  }

  /** A `'retry'` answer after `attempts` attempts of the message, with the backoff's delay. */
  #retry(attempts: number): ProcessResult {
    return { outcome: 'retry', retryDelayMs: delayOf(this.#opts.retryBackoff, Math.max(1, attempts), 0, this.#random) };
  }

  /** `isPoison`'s answer; a throw is reported and leaves the decision to the built-in rule. */
  #verdict(error: unknown, message: M, id: string): boolean | undefined {
    if (this.#isPoison === undefined) return undefined;
    try {
      const answer = this.#isPoison(error, message);
      // Another answer (a promise, truthy at a glance) is reported, and the built-in rule decides.
      if (answer === undefined || typeof answer === 'boolean') return answer;
      throw new TypeError(`isPoison must return true, false or undefined, not ${messageOf(answer)}`);
    } catch (failure) {
      if (this.#events.hasListeners)
        this.#events.emit({ type: 'callback_failed', policy: this.name, callback: 'isPoison', id, error: failure });
      return undefined;
    }
  }

  async #run(message: M, id: string, attempt: number): Promise<void> {
    const { softTimeoutMs, hardTimeoutMs } = this.#opts;
    if (softTimeoutMs === undefined && hardTimeoutMs === undefined) {
      await this.#handler(message, { signal: neverAborted, attempt });
      return;
    }
    // Only a time-limited processor pays for a controller and timers.
    const controller = new AbortController();
    let soft: TimerHandle | undefined;
    let hard: TimerHandle | undefined;
    /** The limit reached last, if any: what ended the attempt when it fails. */
    let reached: { limit: 'soft' | 'hard'; timeoutMs: number } | undefined;
    if (softTimeoutMs !== undefined) {
      soft = this.#clock.setTimeout(() => {
        this.#stats.softTimeouts++;
        reached = { limit: 'soft', timeoutMs: softTimeoutMs };
        controller.abort(new TimeoutError(softTimeoutMs, `Soft time limit of ${softTimeoutMs} ms reached`));
      }, softTimeoutMs);
    }
    try {
      const handled = Promise.resolve().then(() => this.#handler(message, { signal: controller.signal, attempt }));
      if (hardTimeoutMs === undefined) {
        await handled;
        return;
      }
      handled.catch(() => {}); // it may settle after the hard limit: nobody waits for it then
      await new Promise<void>((resolve, reject) => {
        hard = this.#clock.setTimeout(() => {
          this.#stats.hardTimeouts++;
          reached = { limit: 'hard', timeoutMs: hardTimeoutMs };
          const error = new TimeoutError(hardTimeoutMs, `Hard time limit of ${hardTimeoutMs} ms reached`);
          controller.abort(error);
          reject(error);
        }, hardTimeoutMs);
        handled.then(() => resolve(), reject);
      });
    } catch (error) {
      if (reached !== undefined && this.#events.hasListeners) {
        this.#events.emit({ type: 'timeout', policy: this.name, id, attempt, ...reached });
      }
      throw error;
    } finally {
      if (soft !== undefined) this.#clock.clearTimeout(soft);
      if (hard !== undefined) this.#clock.clearTimeout(hard);
    }
  }

  /**
   * Hands the message to the sink once per id: the dead-lettering is claimed in the store
   * first (a lease, renewed while the sink runs), so a concurrent delivery is told to
   * retry instead of sinking too. A failing sink gives the claim up and `process` rejects,
   * so the queue redelivers. Without an id nothing can be claimed.
   */
  async #deadLetter(
    message: M,
    id: string | undefined,
    reason: DeadLetterReason,
    attempts: number,
    error: unknown,
    description: string,
  ): Promise<ProcessResult> {
    const key = id === undefined ? undefined : storeKey(this.#opts.keyPrefix, id);
    let stopRenewing: (() => void) | undefined;
    let by = '';
    if (key !== undefined) {
      // Per delivery, not its attempt number: two deliveries share one once the counter was evicted.
      by = globalThis.crypto.randomUUID();
      const claim = { by, reason, ...(error === undefined ? {} : { last: text(error) }) };
      const claimed = await this.store.apply(key, this.#claim, claim, this.#clock.now());
      if (claimed === 'dead') {
        this.#stats.duplicates++;
        return DEAD_LETTERED;
      }
      if (claimed === 'busy') {
        this.#stats.concurrentDeadLetters++;
        return this.#retry(attempts);
      }
      const renewEveryMs = this.#opts.deadLetterLeaseMs / 3;
      stopRenewing = keepRenewing(this.#clock, renewEveryMs, async () => {
        return (await this.store.apply(key, this.#claim, claim, this.#clock.now())) === 'claimed';
      });
    }
    try {
      await this.#sink(message, { reason, attempts, error, description });
    } catch (sinkError) {
      stopRenewing?.();
      this.#stats.sinkFailures++;
      if (key !== undefined) {
        // Kept for the redelivery's description, which will not run the handler again.
        const last = error === undefined ? {} : { last: text(error) };
        const release = { by, reason, ...last };
        await storeStep(() => this.store.apply(key, this.#release, release, this.#clock.now())).catch(() => undefined);
      }
      throw sinkError;
    }
    stopRenewing?.();
    this.#stats.deadLettered[reason]++;
    if (this.#events.hasListeners) {
      const event = { type: 'dead_lettered', policy: this.name, reason, attempts } as const;
      this.#events.emit(id === undefined ? event : { ...event, id });
    }
    if (key !== undefined) {
      try {
        await this.store.apply(key, this.#dead, { reason }, this.#clock.now());
      } catch {
        // Sunk already: at worst a redelivery after the lease is dead-lettered again.
      }
    }
    return DEAD_LETTERED;
  }
}

/** A message processor with poison detection, retry counting and dead-letter routing (docs/messages.md). */
export function messageProcessor<M>(options: MessageProcessorOptions<M>): MessageProcessor<M> {
  return new MessageProcessor(options);
}
