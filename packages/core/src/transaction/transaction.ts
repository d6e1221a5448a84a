import { classify, type ErrorCategory, isTransient } from '../errors/classify.js';
import { isResilienceError, messageOf, ResilienceError } from '../errors/errors.js';
import { OptionsValidator } from '../errors/validate.js';
import type { TransactionClient, TransactionPhase } from './options.js';

/**
 * A transaction that did not commit. `cause` is the error that stopped it; `rollbackError`
 * the error of a rollback that failed too (never hidden, never hiding `cause`).
 *
 * `transient` says whether running the whole transaction again is safe and may succeed
 * (a lost connection, a serialization failure or deadlock, a timeout). It is always
 * `false` for a commit that failed on a lost connection: the commit may have been applied,
 * so the outcome is unknown (`outcomeUnknown`), and only an idempotent transaction may be
 * retried then.
 */
export class TransactionError extends ResilienceError {
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
    const outcomeUnknown = phase === 'commit' && (category === 'network' || category === 'timeout');
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

/**
 * Runs `fn` inside a transaction: begins, runs `fn(tx)`, commits, and resolves with what
 * `fn` returned. On any error it rolls back (unless `begin` itself failed) and rejects with
 * a {@link TransactionError} whose `transient` says whether a retry is safe, so it composes
 * with `retry()` (which retries transient errors by default).
 *
 * @example
 * const id = await retry().execute(() =>
 *   transactional(client, async (tx) => {
 *     await tx.query('UPDATE accounts SET balance = balance - $1 WHERE id = $2', [10, 1]);
 *     return 1;
 *   }),
 * );
 */
export async function transactional<Tx, T>(
  client: TransactionClient<Tx>,
  fn: (tx: Tx) => T | PromiseLike<T>,
): Promise<T> {
  if (
    typeof client?.begin !== 'function' ||
    typeof client.commit !== 'function' ||
    typeof client.rollback !== 'function' ||
    typeof fn !== 'function'
  ) {
    const v = new OptionsValidator('transactional');
    v.function('begin', client?.begin).required('begin', client?.begin);
    v.function('commit', client?.commit).required('commit', client?.commit);
    v.function('rollback', client?.rollback).required('rollback', client?.rollback);
    v.function('fn', fn).required('fn', fn);
    v.done();
  }
  let tx: Tx;
  try {
    tx = await client.begin();
  } catch (error) {
    throw new TransactionError('begin', error);
  }
  let phase: TransactionPhase = 'run';
  try {
    const value = await fn(tx);
    phase = 'commit';
    await client.commit(tx);
    return value;
  } catch (error) {
    let rollbackError: unknown;
    try {
      await client.rollback(tx, error);
    } catch (failure) {
      rollbackError = failure ?? new Error('rollback failed');
    }
    throw new TransactionError(phase, error, rollbackError);
  }
}
