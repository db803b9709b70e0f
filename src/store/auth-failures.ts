import type { Database } from './database';

/**
 * Removes failed-authentication counters (migration 013, written by rate-limiter-flexible) that
 * expired before `expiredBefore` (epoch milliseconds). Counters without an expiry never lapse.
 */
export async function purgeExpiredAuthFailures(db: Database, expiredBefore: number): Promise<number> {
  return db('auth_failures').where('expire', '<', expiredBefore).delete();
}
