import path from 'node:path';
import { loadConfig } from '../config/config';
import { migrateToLatest, openDatabase } from '../store/database';
import { startEmbeddedPostgres } from '../store/embedded-postgres';

/** `pdvault migrate`: applies pending migrations and exits; in development, to the embedded database. */
export async function migrateCommand(): Promise<void> {
  const config = loadConfig();
  const embedded =
    config.database.url === undefined
      ? await startEmbeddedPostgres({ dir: path.join(config.dataDir, 'postgres'), port: config.database.embeddedPort, database: 'pdvault' })
      : undefined;
  const db = openDatabase(config.database, config.database.url ?? embedded!.url);
  try {
    const applied = await migrateToLatest(db);
    process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'already up to date\n');
  } finally {
    await db.destroy();
    await embedded?.stop();
  }
}
