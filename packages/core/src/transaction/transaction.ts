import type { Bag } from '../errors/bag.js';
import { classify, type ErrorCategory, isTransient } from '../errors/classify.js';
import { isResilienceError, messageOf, ResilienceError } from '../errors/errors.js';
import { isPlainObject, OptionsValidator } from '../errors/validate.js';
import { type Disposer, Emitter, onType, type Subscribe } from '../events/emitter.js';
import { isAbortSignal, neverAborted } from '../policy/policy.js';
import {
  checkClient,
  type RollbackReason,
  resolveTransactionsOptions,
  type TransactionClient,
  type TransactionEvent,
  type TransactionPhase,
  type TransactionsOptions,
} from './options.js';

/**
 * A transaction that did not commit: `cause` stopped it, `rollbackError` is a failed rollback.
 * `transient`: running it again is safe and may succeed; never after a commit lost with its
 * connection (`outcomeUnknown`). See docs/transactions.md.
 */
export class TransactionError extends ResilienceError {
  declare readonly code: 'transaction_failed';
  /** Where it failed: starting, inside `fn`, or committing. */
  readonly phase: TransactionPhase;
  /** The category of `cause` (`classify`: `network` for SQLSTATE class 08, `invalid_state` for a deadlock, …). */
  readonly category: ErrorCategory;
  /** Whether retrying the whole transaction is safe and may succeed. `isTransient` honours it. */
  readonly transient: boolean;
  /** True when the commit may or may not have been applied (connection lost while committing). */
  readonly outcomeUnknown: boolean;
  /** The error of a rollback that failed as well, if any. */
  readonly rollbackError?: unknown;

  constructor(phase: TransactionPhase, cause: unknown, rollbackError?: unknown) {
    const category = classify(cause);
    const retryable = isTransient(cause);
    let code: unknown;
    try {
      code = (cause as Bag).code;
    } catch {}
    // A commit cut off (a lost connection, a timeout) may have been applied; one the database
    // refused for a lock (SQLite's BUSY, a lock wait) was not. An inner transaction's unknown stays so.
    const outcomeUnknown =
      (phase === 'commit' &&
        (category === 'network' || category === 'timeout') &&
        !/^(55P03|ER_LOCK_WAIT_TIMEOUT)$|^SQLITE_BUSY/.test(String(code))) ||
      (isTransactionError(cause) && cause.outcomeUnknown);
    const rolled = rollbackError === undefined ? '' : '; the rollback failed too';
    super('transaction_failed', `Transaction failed during ${phase}: ${messageOf(cause)}${rolled}`, { cause });
    this.phase = phase;
    this.category = category;
    this.transient = retryable && !outcomeUnknown;
    this.outcomeUnknown = outcomeUnknown;
    if (rollbackError !== undefined) this.rollbackError = rollbackError;
  }
}

/** True for a {@link TransactionError} (checked by code, so it works across package copies). */
export const isTransactionError = (error: unknown): error is TransactionError =>
  isResilienceError(error, 'transaction_failed');

/** Why `error` rolled a transaction back (see {@link RollbackReason}). */
const rollbackReason = (error: TransactionError): RollbackReason =>
  error.outcomeUnknown ? 'outcome_unknown' : error.category === 'network' ? 'network_error' : 'error';

/** Where a run reports, when something listens. */
interface Reporter {
  readonly name: string;
  readonly events: Emitter<TransactionEvent>;
}

async function run<Tx, T>(
  client: TransactionClient<Tx>,
  fn: (tx: Tx) => T | PromiseLike<T>,
  to: Reporter | undefined,
  signal: AbortSignal | undefined,
): Promise<T> {
  let tx: Tx;
  try {
    if (signal?.aborted) throw signal.reason; // its caller gave up: take no connection
    tx = await client.begin();
  } catch (error) {
    throw new TransactionError('begin', error);
  }
  if (to?.events.hasListeners) to.events.emit({ type: 'begin', policy: to.name });
  let phase: 'run' | 'commit' = 'run';
  // Aborted meanwhile (a timeout gave up, a retry runs it again): roll back, never run `fn` or
  // commit. Not throwIfAborted(): a polyfilled signal (abortcontroller-polyfill) has none.
  const check = () => {
    if (signal?.aborted) throw signal.reason;
  };
  try {
    check();
    const value = await fn(tx);
    check();
    phase = 'commit';
    await client.commit(tx);
    if (to?.events.hasListeners) to.events.emit({ type: 'commit', policy: to.name });
    return value;
  } catch (error) {
    let rollbackError: unknown;
    try {
      await client.rollback(tx, error);
    } catch (failure) {
      rollbackError = failure ?? new Error('rollback failed');
    }
    const failed = new TransactionError(phase, error, rollbackError);
    if (to?.events.hasListeners) {
      to.events.emit({ type: 'rollback', policy: to.name, reason: rollbackReason(failed), phase, error: failed });
    }
    throw failed;
  }
}

/**
 * Runs `fn(tx)` in a transaction (begin, commit, rollback on error) and resolves with what it
 * returned; rejects with a {@link TransactionError} whose `transient` says whether `retry()`
 * may run it again. See docs/transactions.md.
 * @example
 * const id = await retry().execute(() => transactional(client, (tx) => tx.query('UPDATE ...')));
 */
export async function transactional<Tx, T>(
  client: TransactionClient<Tx>,
  fn: (tx: Tx) => T | PromiseLike<T>,
  options?: TransactionRunOptions,
): Promise<T> {
  if (
    typeof client?.begin !== 'function' ||
    typeof client.commit !== 'function' ||
    typeof client.rollback !== 'function' ||
    typeof fn !== 'function' ||
    !runOptions(options)
  ) {
    checkRun(checkClient(new OptionsValidator('transactional'), client), fn, options);
  }
  return run(client, fn, undefined, options?.signal);
}

/** Options of one transaction. */
export interface TransactionRunOptions {
  /** Once aborted, the transaction rolls back instead of running `fn` or committing: pass a `timeout`'s signal. */
  signal?: AbortSignal;
}

// A misspelt `signl` is refused: it would leave the transaction to commit after its caller gave up.
const runOptions = (o: TransactionRunOptions | undefined): boolean =>
  o === undefined ||
  (isPlainObject(o) && Object.keys(o).every((k) => k === 'signal') && isAbortSignal(o.signal ?? neverAborted));

const checkRun = (v: OptionsValidator, fn: unknown, options: TransactionRunOptions | undefined): void => {
  v.function('fn', fn).required('fn', fn);
  const { signal } = v.known(options, { signal: true });
  v.check(signal === undefined || isAbortSignal(signal), 'signal', signal, 'an AbortSignal').done();
};

/**
 * A client's transactions with events: `run(fn)` is {@link transactional}, and every
 * transaction reports `begin`, then `commit` or `rollback` with its reason, to `onEvent`
 * (what `observe` counts). Nothing is built while nobody listens.
 */
export class Transactions<Tx> {
  readonly name: string;
  readonly #client: TransactionClient<Tx>;
  readonly #events = new Emitter<TransactionEvent>();
  /** Every event of this wrapper; returns a disposer. */
  readonly onEvent: Subscribe<TransactionEvent> = this.#events.subscribe;

  constructor(client: TransactionClient<Tx>, options: TransactionsOptions = {}) {
    this.name = resolveTransactionsOptions(client, options).name;
    this.#client = client;
  }

  /** Runs `fn` in a transaction on the client, as `transactional(client, fn, options)` does. */
  async run<T>(fn: (tx: Tx) => T | PromiseLike<T>, options?: TransactionRunOptions): Promise<T> {
    if (typeof fn !== 'function' || !runOptions(options))
      checkRun(new OptionsValidator('transactions.run'), fn, options);
    return run(this.#client, fn, { name: this.name, events: this.#events }, options?.signal);
  }

  /** Subscribes to one event type: `'begin'`, `'commit'` or `'rollback'`. */
  on<K extends TransactionEvent['type']>(
    type: K,
    listener: (event: Extract<TransactionEvent, { type: K }>) => void,
  ): Disposer {
    return onType(this.#events.subscribe, type)(listener);
  }
}

/**
 * A transaction wrapper over `client` that reports what its transactions do.
 *
 * @example
 * const orders = transactions(postgres, { name: 'orders-db' });
 * observe(orders, stats); // counts rollbacks by reason
 * await orders.run(async (tx) => tx.query('INSERT ...'));
 */
export function transactions<Tx>(client: TransactionClient<Tx>, options: TransactionsOptions = {}): Transactions<Tx> {
  return new Transactions(client, options);
}
