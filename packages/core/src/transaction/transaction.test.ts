import { describe, expect, it, vi } from 'vitest';
import { isTransient } from '../errors/classify.js';
import { ConfigurationError } from '../errors/errors.js';
import { TRANSACTIONS_DEFAULTS, type TransactionEvent } from './options.js';
import { isTransactionError, TransactionError, transactional, transactions } from './transaction.js';

interface Tx {
  log: string[];
}

function client(overrides: Partial<{ begin: () => unknown; commit: () => unknown; rollback: () => unknown }> = {}) {
  const tx: Tx = { log: [] };
  return {
    tx,
    begin: vi.fn(overrides.begin ?? (() => tx)),
    commit: vi.fn(overrides.commit ?? (() => void tx.log.push('commit'))),
    rollback: vi.fn(overrides.rollback ?? (() => void tx.log.push('rollback'))),
  };
}

const lost = () => Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });

describe('transactional', () => {
  it('begins, runs fn with the transaction, commits and resolves with its value', async () => {
    const c = client();
    const value = await transactional(c as never, async (tx: Tx) => {
      tx.log.push('work');
      return 42;
    });
    expect(value).toBe(42);
    expect(c.tx.log).toEqual(['work', 'commit']);
    expect(c.rollback).not.toHaveBeenCalled();
  });

  it('rolls back and rethrows a TransactionError carrying the original error', async () => {
    const c = client();
    const boom = new Error('constraint violated');
    const error = await transactional(c as never, () => {
      throw boom;
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransactionError);
    expect(isTransactionError(error)).toBe(true);
    expect((error as TransactionError).cause).toBe(boom);
    expect((error as TransactionError).phase).toBe('run');
    expect((error as TransactionError).transient).toBe(false);
    expect(c.tx.log).toEqual(['rollback']);
    expect(c.rollback).toHaveBeenCalledWith(c.tx, boom);
  });

  it('rejects with a TransactionError whatever fn throws, even a value String() cannot print', async () => {
    const odd = Object.create(null);
    const error = await transactional(client() as never, () => Promise.reject(odd)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransactionError);
    expect((error as TransactionError).cause).toBe(odd);
    expect((error as TransactionError).message).toBe('Transaction failed during run: [object without a message]');
  });

  it('marks a lost connection inside the transaction as transient, so a retry is safe', async () => {
    const c = client();
    const error = (await transactional(c as never, () => Promise.reject(lost())).catch((e) => e)) as TransactionError;
    expect(error.category).toBe('network');
    expect(error.transient).toBe(true);
    expect(isTransient(error)).toBe(true);
  });

  it('treats PostgreSQL serialization failures and deadlocks as transient', async () => {
    for (const code of ['40001', '40P01', '08006', '57P01']) {
      const c = client();
      const pgError = Object.assign(new Error('could not serialize access'), { code });
      const error = (await transactional(c as never, () => Promise.reject(pgError)).catch(
        (e) => e,
      )) as TransactionError;
      expect(error.transient, code).toBe(true);
    }
  });

  it('knows the same retryable database errors as classify: MySQL and SQLite locks too', async () => {
    for (const code of ['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT', 'SQLITE_BUSY', '55P03']) {
      const locked = Object.assign(new Error('locked'), { code });
      const error = (await transactional(client() as never, () => Promise.reject(locked)).catch(
        (e) => e,
      )) as TransactionError;
      expect(error.transient, code).toBe(true);
    }
  });

  it('attaches a failing rollback without hiding the original error', async () => {
    const rollbackFailure = new Error('rollback: connection closed');
    const c = client({
      rollback: () => {
        throw rollbackFailure;
      },
    });
    const boom = new Error('bad input');
    const error = (await transactional(c as never, () => Promise.reject(boom)).catch((e) => e)) as TransactionError;
    expect(error.cause).toBe(boom);
    expect(error.rollbackError).toBe(rollbackFailure);
    expect(error.message).toMatch(/bad input.*rollback failed too/);
  });

  it('does not roll back when begin fails, and says where it failed', async () => {
    const c = client({ begin: () => Promise.reject(lost()) });
    const fn = vi.fn();
    const error = (await transactional(c as never, fn).catch((e) => e)) as TransactionError;
    expect(error.phase).toBe('begin');
    expect(error.transient).toBe(true);
    expect(fn).not.toHaveBeenCalled();
    expect(c.rollback).not.toHaveBeenCalled();
  });

  it('reports a commit lost with the connection as an unknown outcome that is not safe to retry', async () => {
    const c = client({ commit: () => Promise.reject(lost()) });
    const error = (await transactional(c as never, () => 1).catch((e) => e)) as TransactionError;
    expect(error.phase).toBe('commit');
    expect(error.outcomeUnknown).toBe(true);
    expect(error.transient).toBe(false);
    expect(c.rollback).toHaveBeenCalledTimes(1);
  });

  it('reads SQLSTATE class 08 and 57P01 as a lost connection: network, and an unknown outcome at commit', async () => {
    for (const code of ['08006', '57P01']) {
      const dropped = Object.assign(new Error('terminating connection'), { code });
      const during = (await transactional(client() as never, () => Promise.reject(dropped)).catch(
        (e) => e,
      )) as TransactionError;
      expect([during.category, during.transient, during.outcomeUnknown], code).toEqual(['network', true, false]);
      const atCommit = (await transactional(client({ commit: () => Promise.reject(dropped) }) as never, () => 1).catch(
        (e) => e,
      )) as TransactionError;
      expect([atCommit.category, atCommit.transient, atCommit.outcomeUnknown], code).toEqual(['network', false, true]);
    }
  });

  it('treats a serialization failure at commit as transient (the server rolled back)', async () => {
    const c = client({ commit: () => Promise.reject(Object.assign(new Error('serialize'), { code: '40001' })) });
    const error = (await transactional(c as never, () => 1).catch((e) => e)) as TransactionError;
    expect(error.phase).toBe('commit');
    expect(error.outcomeUnknown).toBe(false);
    expect(error.transient).toBe(true);
  });

  it('treats a commit the database refused for a lock (SQLite BUSY, a lock wait) as not applied: transient, no unknown outcome', async () => {
    for (const code of ['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'ER_LOCK_WAIT_TIMEOUT', '55P03']) {
      const busy = Object.assign(new Error('database is locked'), { code });
      const error = (await transactional(client({ commit: () => Promise.reject(busy) }) as never, () => 1).catch(
        (e) => e,
      )) as TransactionError;
      expect([error.phase, error.outcomeUnknown, error.transient], code).toEqual(['commit', false, true]);
    }
    // A commit that timed out on the wire may still have been applied.
    const cut = Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' });
    const error = (await transactional(client({ commit: () => Promise.reject(cut) }) as never, () => 1).catch(
      (e) => e,
    )) as TransactionError;
    expect([error.outcomeUnknown, error.transient]).toEqual([true, false]);
  });

  it("keeps an inner transaction's unknown outcome on the outer one: its rollback cannot undo what may have committed", async () => {
    const inner = client({ commit: () => Promise.reject(lost()) });
    const outer = client();
    const error = (await transactional(outer as never, () => transactional(inner as never, () => 1)).catch(
      (e) => e,
    )) as TransactionError;
    expect([error.phase, error.outcomeUnknown, error.transient]).toEqual(['run', true, false]);
  });

  it('rolls back instead of committing once its signal aborted (a timeout gave up on it), so a retry commits once', async () => {
    const commits: string[] = [];
    const db = client({ commit: () => void commits.push('commit') });
    const controller = new AbortController();
    const timedOut = new Error('timed out');
    const error = (await transactional(
      db as never,
      () => {
        controller.abort(timedOut); // the limit passed while fn ran
        return 'inserted';
      },
      { signal: controller.signal },
    ).catch((e) => e)) as TransactionError;
    expect([error.phase, error.cause]).toEqual(['run', timedOut]);
    expect(commits).toEqual([]);
    expect(db.rollback).toHaveBeenCalledTimes(1);
    const run = transactions(client() as never);
    await expect(run.run(() => 1, { signal: AbortSignal.abort(timedOut) })).rejects.toMatchObject({ cause: timedOut });
    await expect(transactional(client() as never, () => 1, { signal: 'soon' } as never)).rejects.toThrow(
      /signal: received "soon", expected an AbortSignal/,
    );
  });

  it('does not begin when its signal has already aborted: no connection is taken for a caller that gave up', async () => {
    const timedOut = new Error('timed out');
    const db = client();
    const fn = vi.fn(() => 'updated');
    const seen: string[] = [];
    const run = transactions(db as never);
    run.onEvent((e) => seen.push(e.type));
    for (const attempt of [
      () => transactional(db as never, fn, { signal: AbortSignal.abort(timedOut) }),
      () => run.run(fn, { signal: AbortSignal.abort(timedOut) }),
    ]) {
      const error = (await attempt().catch((e) => e)) as TransactionError;
      expect([error.phase, error.cause]).toEqual(['begin', timedOut]);
    }
    expect([db.begin, fn, db.commit, db.rollback].map((f) => f.mock.calls.length)).toEqual([0, 0, 0, 0]);
    expect(seen).toEqual([]);
  });

  it('rolls back without running fn when its signal aborted while begin waited (a pool out of connections)', async () => {
    const controller = new AbortController();
    const gaveUp = new Error('timed out');
    const db = client({
      begin: () => {
        controller.abort(gaveUp);
        return { log: [] };
      },
    });
    const fn = vi.fn(() => 'updated');
    await expect(transactional(db as never, fn, { signal: controller.signal })).rejects.toMatchObject({
      phase: 'run',
      cause: gaveUp,
    });
    expect(fn).not.toHaveBeenCalled();
    expect([db.commit, db.rollback].map((f) => f.mock.calls.length)).toEqual([0, 1]);
  });

  it('commits with a polyfilled signal that has no throwIfAborted, and rolls back once it aborted', async () => {
    const signal = { aborted: false, reason: undefined as unknown, addEventListener() {}, removeEventListener() {} };
    const db = client();
    expect(await transactional(db as never, () => 'ok', { signal: signal as never })).toBe('ok');
    expect([db.commit, db.rollback].map((f) => f.mock.calls.length)).toEqual([1, 0]);
    const gaveUp = new Error('gave up');
    const abortsWhileRunning = () => {
      Object.assign(signal, { aborted: true, reason: gaveUp });
      return 'ok';
    };
    await expect(transactional(db as never, abortsWhileRunning, { signal: signal as never })).rejects.toMatchObject({
      phase: 'run',
      cause: gaveUp,
    });
    expect([db.commit, db.rollback].map((f) => f.mock.calls.length)).toEqual([1, 1]);
  });

  it('rejects a client without begin, commit or rollback with a ConfigurationError naming each', async () => {
    const error = await transactional({} as never, () => 1).catch((e) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).issues.map((i) => i.option)).toEqual(['begin', 'commit', 'rollback']);
  });
});

/** A wrapper over `c` and the events it emitted, with the error the types leave out. */
function watched(c: ReturnType<typeof client>) {
  const orders = transactions(c as never, { name: 'orders-db' });
  const events: Array<Omit<TransactionEvent, 'error'>> = [];
  orders.onEvent(({ ...event }) => {
    if ('error' in event) {
      expect(isTransactionError(event.error)).toBe(true);
      delete (event as { error?: unknown }).error;
    }
    events.push(event);
  });
  return { orders, events };
}

describe('transactions', () => {
  it('pins its default name', () => {
    expect(TRANSACTIONS_DEFAULTS).toEqual({ name: 'transaction' });
    expect(transactions(client() as never).name).toBe('transaction');
  });

  it('emits begin and commit for a transaction that commits, stamped with its name', async () => {
    const c = client();
    const { orders, events } = watched(c);
    expect(await orders.run(() => 7)).toBe(7);
    expect(events).toEqual([
      { type: 'begin', policy: 'orders-db' },
      { type: 'commit', policy: 'orders-db' },
    ]);
  });

  it('emits a rollback with reason network_error when the connection drops inside the transaction', async () => {
    const { orders, events } = watched(client());
    await expect(orders.run(() => Promise.reject(lost()))).rejects.toMatchObject({ phase: 'run', transient: true });
    expect(events).toEqual([
      { type: 'begin', policy: 'orders-db' },
      { type: 'rollback', policy: 'orders-db', reason: 'network_error', phase: 'run' },
    ]);
  });

  it('emits a rollback with reason error for any other failure, a deadlock included', async () => {
    const { orders, events } = watched(client());
    await orders.run(() => Promise.reject(new Error('constraint violated'))).catch(() => {});
    await orders.run(() => Promise.reject(Object.assign(new Error('deadlock'), { code: '40P01' }))).catch(() => {});
    expect(events.filter((e) => e.type === 'rollback').map((e) => 'reason' in e && e.reason)).toEqual([
      'error',
      'error',
    ]);
  });

  it('emits a rollback with reason outcome_unknown when the commit is lost with the connection', async () => {
    const { orders, events } = watched(client({ commit: () => Promise.reject(lost()) }));
    await expect(orders.run(() => 1)).rejects.toMatchObject({ outcomeUnknown: true });
    expect(events.at(-1)).toEqual({
      type: 'rollback',
      policy: 'orders-db',
      reason: 'outcome_unknown',
      phase: 'commit',
    });
  });

  it('hands the TransactionError to the rollback event, the failed rollback included', async () => {
    const broken = new Error('rollback: connection closed');
    const orders = transactions(
      client({
        rollback: () => {
          throw broken;
        },
      }) as never,
    );
    const errors: unknown[] = [];
    orders.on('rollback', (event) => errors.push(event.error));
    const thrown = await orders.run(() => Promise.reject(new Error('bad input'))).catch((e: unknown) => e);
    expect(errors).toEqual([thrown]);
    expect(errors[0]).toMatchObject({ rollbackError: broken });
  });

  it('emits nothing when begin fails: no transaction was begun, none rolled back', async () => {
    const { orders, events } = watched(client({ begin: () => Promise.reject(lost()) }));
    await expect(orders.run(() => 1)).rejects.toMatchObject({ phase: 'begin' });
    expect(events).toEqual([]);
  });

  it('stops telling a listener once it is disposed, and on() passes one type only', async () => {
    const orders = transactions(client() as never);
    const all: string[] = [];
    const commits: string[] = [];
    const stop = orders.onEvent((e) => all.push(e.type));
    orders.on('commit', (e) => commits.push(e.type));
    await orders.run(() => 1);
    stop();
    await orders.run(() => 2);
    expect(all).toEqual(['begin', 'commit']);
    expect(commits).toEqual(['commit', 'commit']);
  });

  it('rejects a bad client, name or unknown option at construction, naming each', () => {
    const bad = () => transactions({ begin: 1 } as never, { name: '', retries: 3 } as never);
    expect(bad).toThrow(ConfigurationError);
    for (const option of ['begin', 'commit', 'rollback', 'name', 'retries']) expect(bad).toThrow(option);
  });

  it('rejects a run without a function', async () => {
    await expect(transactions(client() as never).run(undefined as never)).rejects.toThrow(/fn/);
  });
});
