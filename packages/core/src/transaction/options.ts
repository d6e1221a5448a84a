import { type OptionNames, OptionsValidator } from '../errors/validate.js';
import type { TransactionError } from './transaction.js';

/**
 * The three calls `transactional` needs from a database client. Any client fits: pass
 * functions that begin, commit and roll back a transaction on it.
 *
 * @example
 * const client = { begin: () => pool.connect().then(async (c) => (await c.query('BEGIN'), c)), ... };
 */
export interface TransactionClient<Tx> {
  /** Starts a transaction and resolves with its handle (a connection, a session). */
  begin(): Tx | PromiseLike<Tx>;
  /** Commits the transaction begun by `begin`. */
  commit(tx: Tx): unknown;
  /** Rolls the transaction back; called with the error that caused it. */
  rollback(tx: Tx, error: unknown): unknown;
}

/** Where a transaction failed. */
export type TransactionPhase = 'begin' | 'run' | 'commit';

/**
 * Why a transaction was rolled back: `outcome_unknown` when the commit was lost with the
 * connection (it may have been applied), `network_error` when the connection failed before
 * (`classify` says `network`: ECONNRESET, SQLSTATE class 08, 57P01), `error` for anything else.
 */
export type RollbackReason = 'network_error' | 'error' | 'outcome_unknown';

/**
 * What a `transactions()` wrapper reports: `begin` once a transaction has begun, then
 * `commit` or `rollback` (with the `TransactionError` it rejects with). A `begin` that fails
 * reports nothing: no transaction was begun, none is rolled back.
 */
export type TransactionEvent =
  | { readonly type: 'begin'; readonly policy: string }
  | { readonly type: 'commit'; readonly policy: string }
  | {
      readonly type: 'rollback';
      readonly policy: string;
      readonly reason: RollbackReason;
      readonly phase: Exclude<TransactionPhase, 'begin'>;
      /** The error the run rejects with. */
      readonly error: TransactionError;
    };

export interface TransactionsOptions {
  /** Stamped on every event as `policy`. @default 'transaction' */
  name?: string;
}

/** Every option `transactions` takes; any other name is rejected. */
export const TRANSACTIONS_OPTION_NAMES = { name: true } as const satisfies OptionNames<TransactionsOptions>;

export const TRANSACTIONS_DEFAULTS = { name: 'transaction' } as const;

/** Reports a client without its three functions (and a bad `fn` or option) to `v`. */
export function checkClient(v: OptionsValidator, client: unknown): OptionsValidator {
  const c = client as Partial<TransactionClient<unknown>> | null | undefined;
  v.function('begin', c?.begin).required('begin', c?.begin);
  v.function('commit', c?.commit).required('commit', c?.commit);
  return v.function('rollback', c?.rollback).required('rollback', c?.rollback);
}

export function resolveTransactionsOptions(client: unknown, options: TransactionsOptions): { name: string } {
  const v = checkClient(new OptionsValidator('transactions'), client);
  v.string('name', v.known(options, TRANSACTIONS_OPTION_NAMES).name);
  v.done();
  return { name: options.name ?? TRANSACTIONS_DEFAULTS.name };
}
