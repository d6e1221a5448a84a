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
