import { loadCommandConfig } from '../config/config';
import { migrateToLatest } from '../store/database';
import { withCommandConnection } from './cli-database';

/**
 * `pdvault migrate`: applies pending migrations and exits; in development, to the embedded
 * database (the running vault's, when `npm start` has it up).
 */
export async function migrateCommand(): Promise<void> {
  const config = loadCommandConfig();
  const applied = await withCommandConnection(config, migrateToLatest);
  process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'already up to date\n');
}
