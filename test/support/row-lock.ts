import { Client } from 'pg';

export interface HeldLock {
  /** Returns once `waiters` sessions of the database wait on a lock. */
  waitForWaiters(waiters: number): Promise<void>;
  /** Ends the transaction holding the lock. */
  release(): Promise<void>;
}

/**
 * Runs `lockingQuery` (a `… for update`) in a transaction of a session of its own, outside the
 * vault's small pool, and holds the locks it took until `release`: requests sent meanwhile
 * queue behind them, so a race can be set up rather than hoped for.
 */
export async function holdRowLocks(databaseUrl: string, lockingQuery: string, params: unknown[]): Promise<HeldLock> {
  // A test that fails or times out never leaves the lock held: the server ends the session.
  const holder = new Client({ connectionString: databaseUrl, options: '-c idle_in_transaction_session_timeout=20000 -c lock_timeout=5000' });
  await holder.connect();
  try {
    await holder.query('begin');
    await holder.query(lockingQuery, params);
  } catch (error) {
    await holder.end();
    throw error;
  }
  return {
    async waitForWaiters(waiters) {
      for (let waited = 0; ; waited += 20) {
        // pg_stat_activity is read once per transaction unless its snapshot is cleared.
        await holder.query('select pg_stat_clear_snapshot()');
        const { rows } = await holder.query<{ n: number }>(
          "select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
        );
        if (rows[0]!.n >= waiters) return;
        if (waited > 10_000) throw new Error(`only ${rows[0]!.n} of ${waiters} requests reached the lock`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async release() {
      await holder.query('commit');
      await holder.end();
    },
  };
}

/**
 * Sends requests that each queue behind the locks `lock` holds, waits until `waiters` sessions
 * wait on them, releases them, and returns what the requests got: a race set up, not hoped for.
 * The lock is released whatever happens, so a failed send never leaves it held.
 */
export async function answersQueuedBehind<T>(lock: HeldLock, waiters: number, send: () => Array<PromiseLike<T>>): Promise<T[]> {
  try {
    const sent = send().map((request) => Promise.resolve(request));
    await lock.waitForWaiters(waiters);
    await lock.release();
    return await Promise.all(sent);
  } catch (error) {
    await lock.release().catch(() => undefined);
    throw error;
  }
}
