import fs from 'node:fs';
import knex, { type Knex } from 'knex';
import type { PoolClient, QueryConfig, QueryResult, QueryResultRow } from 'pg';
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

const CLIENT_TIMEOUT_MARGIN_MS = 2_000;

export function openDatabase(settings: Config['database'], url: string, log?: DatabaseLog): Database {
  return knex({
    // knex and its pool otherwise print connection trouble to stdout, outside the JSON log.
    ...(log ? { log: { warn: log.warn, error: log.error, deprecate: log.warn, debug: () => undefined } } : {}),
    client: 'pg',
    // A failed query's error message gets its SQL prepended; with this, the SQL with placeholders,
    // not with the values bound to them (personal values, Idempotency-Keys), which the log would keep.
    compileSqlOnError: false,
    connection: {
      connectionString: url,
      application_name: settings.applicationName,
      statement_timeout: settings.statementTimeoutMs,
      // The server's timeout cannot fire for a server that cannot be reached (packets dropped, a
      // host gone without a reset): without one of its own, a request would wait for TCP to give
      // up, a quarter of an hour. Longer than the server's, so the server's answers first.
      query_timeout: settings.statementTimeoutMs + CLIENT_TIMEOUT_MARGIN_MS,
      ...(settings.sslCaFile
        ? { ssl: { ca: fs.readFileSync(settings.sslCaFile, 'utf8'), rejectUnauthorized: true } }
        : {}),
    },
    pool: {
      min: 0,
      max: settings.poolMax,
      // Only a session idle outside any transaction is handed out. One whose query timed out
      // client-side may still wait for that answer, or, once it came, still be inside the
      // transaction whose ROLLBACK timed out behind it: the next caller's writes would join that
      // transaction (committed by someone else's COMMIT, or never). Such a session is closed.
      validate: (connection: { readyForQuery?: boolean; getTransactionStatus?(): string | null }) =>
        connection.readyForQuery === true && (connection.getTransactionStatus?.() ?? 'I') === 'I',
    },
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

/** A pooled PostgreSQL session, used directly. */
export interface Session {
  query<R extends QueryResultRow = QueryResultRow>(config: QueryConfig): Promise<QueryResult<R>>;
  /** Several statements in one round trip (the simple protocol: no parameters); a result for each. */
  query(text: string): Promise<QueryResult | QueryResult[]>;
}

interface PooledClient {
  acquireConnection(): Promise<PoolClient & { __knex__disposed?: unknown }>;
  releaseConnection(connection: PoolClient): Promise<void>;
  emit(event: 'query', query: { sql: string; method: 'raw' }): void;
}

/**
 * Runs `work` on one session of the pool, straight on the pg client rather than through knex's
 * query builder and runner: for the few statements on every request's path (a subject read, an
 * audit group commit), where those layers cost about 30 µs of CPU a query, a fifth of the query
 * itself. The same pool, so the same sessions, settings and limits; each statement is still
 * announced as knex's `query` event, so whoever watches the database's traffic sees it. Given a
 * knex transaction as `db`, the session is that transaction's own connection. When
 * `work` fails and the session may be left in an unknown state, `discard` marks it so the pool
 * closes it instead of handing it out again (the mark is the one knex sets on a broken connection).
 */
export async function withSession<T>(db: Database, work: (session: Session, discard: (reason: unknown) => void) => Promise<T>): Promise<T> {
  const pool = db.client as PooledClient;
  const connection = await pool.acquireConnection();
  const session = {
    query: (statement: QueryConfig | string) => {
      pool.emit('query', { sql: typeof statement === 'string' ? statement : statement.text, method: 'raw' });
      return connection.query(statement as QueryConfig);
    },
  } as Session;
  try {
    return await work(session, (reason) => {
      connection.__knex__disposed = reason ?? 'discarded';
    });
  } finally {
    await pool.releaseConnection(connection);
  }
}
