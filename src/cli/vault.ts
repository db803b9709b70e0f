import type { DestinationStream } from 'pino';
import type { Config } from '../config/config';
import { createApp, type VaultApp } from '../http/app';
import type { ReadinessCheck } from '../http/routes/operations';
import { listenHttps, type RunningServer } from '../http/server';
import { createLogger, type Logger } from '../observability/logger';
import { createMetrics, type Metrics } from '../observability/metrics';
import {
  databaseIsReachable,
  migrateToLatest,
  migrationsAreCurrent,
  openDatabase,
  poolStats,
  type Database,
} from '../store/database';

export interface RunningVault {
  url: string;
  port: number;
  db: Database;
  logger: Logger;
  metrics: Metrics;
  routes: VaultApp['routes'];
  /** Graceful stop: no new connections, in-flight requests finish, then the pool closes. */
  stop(): Promise<void>;
}

export interface StartOptions {
  logDestination?: DestinationStream;
}

/**
 * Composition root: wires configuration, database, HTTP app and HTTPS listener. `config` must
 * be complete (database URL and TLS files resolved), which the start command ensures.
 */
export async function startVault(config: Config, options: StartOptions = {}): Promise<RunningVault> {
  if (!config.database.url) throw new Error('database URL must be resolved before the vault starts');
  const logger = createLogger(config.log.level, options.logDestination);
  const metrics = createMetrics();
  const db = openDatabase(config.database, config.database.url);
  try {
    if (config.database.migrateOnStart) {
      const applied = await migrateToLatest(db);
      if (applied.length) logger.info({ migrations: applied }, 'migrations applied');
    }
    registerPoolGauges(metrics, db);
    const readiness: ReadinessCheck[] = [
      { name: 'database', check: async () => ({ ok: await databaseIsReachable(db) }) },
      {
        name: 'migrations',
        check: async () => ((await migrationsAreCurrent(db)) ? { ok: true } : { ok: false, detail: 'pending migrations' }),
      },
    ];
    const { app, routes } = createApp({ config, logger, metrics, readiness });
    const server: RunningServer = await listenHttps(app, config, logger);
    return {
      url: server.url,
      port: server.port,
      db,
      logger,
      metrics,
      routes,
      async stop() {
        await server.close();
        await db.destroy();
        logger.flush();
      },
    };
  } catch (error) {
    await db.destroy();
    throw error;
  }
}

function registerPoolGauges(metrics: Metrics, db: Database): void {
  metrics.gauge('pdvault_db_pool_used', 'Connections in use.', () => poolStats(db).used);
  metrics.gauge('pdvault_db_pool_free', 'Idle connections.', () => poolStats(db).free);
  metrics.gauge('pdvault_db_pool_pending', 'Requests waiting for a connection.', () => poolStats(db).pending);
}
