import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/config';
import { databaseIsReachable, migrateToLatest, migrationsAreCurrent, openDatabase, type Database } from '../store/database';
import { holdsNoEmbeddedCluster, startEmbeddedPostgres, type EmbeddedCluster } from '../store/embedded-postgres';

/**
 * Runs `action` against the vault's database for a one-shot command. In development without
 * DATABASE_URL that is the embedded PostgreSQL: the running vault's when `npm start` has it up,
 * else started for the command and stopped after. A data folder that holds no vault is refused:
 * a command pointed at the wrong one would otherwise make a new, empty vault there, and answer
 * (a client registered, its secret printed) as though the running vault had taken it.
 */
export function withCommandDatabase<T>(config: Config, action: (db: Database) => Promise<T>): Promise<T> {
  if (config.database.url === undefined && holdsNoEmbeddedCluster(path.join(config.dataDir, 'postgres'))) {
    return Promise.reject(
      new Error(`no vault in the data folder ${path.resolve(config.dataDir)}: start one there first (npm start), or set PDVAULT_DATA_DIR to the data folder of the vault this command is for`),
    );
  }
  return withCommandConnection(config, async (db) => {
    if (config.database.migrateOnStart) await migrateToLatest(db);
    else if (!(await migrationsAreCurrent(db))) throw new Error('the database has pending migrations; run `pdvault migrate` first');
    return action(db);
  });
}

/** As withCommandDatabase, without looking at the schema (for `pdvault migrate` itself). */
export async function withCommandConnection<T>(config: Config, action: (db: Database) => Promise<T>): Promise<T> {
  let embedded: EmbeddedCluster | undefined;
  let url = config.database.url;
  if (url === undefined) {
    url = await runningEmbeddedUrl(config);
    if (url === undefined) {
      embedded = await startEmbeddedPostgres({ dir: path.join(config.dataDir, 'postgres'), port: config.database.embeddedPort, database: 'pdvault' });
      url = embedded.url;
    }
  }
  const db = openDatabase(config.database, url, STDERR_LOG);
  try {
    return await action(db);
  } finally {
    await db.destroy();
    await embedded?.stop();
  }
}

/** knex's own messages (connection trouble) go to stderr, one line each: stdout carries only a command's answer. */
const STDERR_LOG = {
  warn: (message: unknown) => process.stderr.write(`pdvault: database: ${firstLine(message)}\n`),
  error: (message: unknown) => process.stderr.write(`pdvault: database: ${firstLine(message)}\n`),
};
/** A message of knex's without the stack it may carry (a connection error's): one line of log each. */
export const firstLine = (message: unknown) => (message instanceof Error ? message.message : String(message)).split('\n')[0];

async function runningEmbeddedUrl(config: Config): Promise<string | undefined> {
  const passwordFile = path.join(config.dataDir, 'postgres', 'password');
  const pidFile = path.join(config.dataDir, 'postgres', 'cluster', 'postmaster.pid');
  if (!fs.existsSync(pidFile) || !fs.existsSync(passwordFile)) return undefined;
  const password = fs.readFileSync(passwordFile, 'utf8').trim();
  // The port the running server took, from its own pid file (the fourth line): the vault may have
  // been started with another PDVAULT_EMBEDDED_PG_PORT than this command's shell holds.
  const port = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[3]) || config.database.embeddedPort;
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/pdvault`;
  const probe = openDatabase({ ...config.database, poolMax: 1 }, url, STDERR_LOG);
  try {
    return (await databaseIsReachable(probe)) ? url : undefined;
  } catch {
    return undefined;
  } finally {
    await probe.destroy();
  }
}
