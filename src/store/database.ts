import fs from 'node:fs';
import knex, { type Knex } from 'knex';
import type { Config } from '../config/config';
import { migrationSource } from '../../migrations';

export type Database = Knex;

/**
 * Opens the pool. Every session carries the configured statement timeout and application
 * name, so a stuck query fails instead of holding a connection, and operators can see the
 * vault's sessions in pg_stat_activity.
 */
export interface DatabaseLog {
  warn(message: string): void;
  error(message: string): void;
}

export function openDatabase(settings: Config['database'], url: string, log?: DatabaseLog): Database {
  return knex({
    // knex and its pool otherwise print connection trouble to stdout, outside the JSON log.
    ...(log ? { log: { warn: log.warn, error: log.error, deprecate: log.warn, debug: () => undefined } } : {}),
    client: 'pg',
    connection: {
      connectionString: url,
      application_name: settings.applicationName,
      statement_timeout: settings.statementTimeoutMs,
      ...(settings.sslCaFile
        ? { ssl: { ca: fs.readFileSync(settings.sslCaFile, 'utf8'), rejectUnauthorized: true } }
        : {}),
    },
    pool: { min: 0, max: settings.poolMax },
    acquireConnectionTimeout: 10_000,
    migrations: { migrationSource, tableName: 'knex_migrations' },
  });
}

export async function migrateToLatest(db: Database): Promise<string[]> {
  const [, applied] = (await db.migrate.latest()) as [number, string[]];
  return applied;
}

/** True when every migration this build knows has been applied. */
export async function migrationsAreCurrent(db: Database): Promise<boolean> {
  const [, pending] = (await db.migrate.list()) as [unknown[], unknown[]];
  return pending.length === 0;
}

export async function databaseIsReachable(db: Database): Promise<boolean> {
  await db.raw('select 1');
  return true;
}

export interface PoolStats {
  used: number;
  free: number;
  pending: number;
}

export function poolStats(db: Database): PoolStats {
  const pool = (db.client as { pool?: { numUsed(): number; numFree(): number; numPendingAcquires(): number } }).pool;
  if (!pool) return { used: 0, free: 0, pending: 0 };
  return { used: pool.numUsed(), free: pool.numFree(), pending: pool.numPendingAcquires() };
}
