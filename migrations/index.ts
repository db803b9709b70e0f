import type { Knex } from 'knex';
import * as m20261130_001_vault_meta from './20261130_001_vault_meta';

/**
 * Migrations are listed here rather than discovered on disk, so the same list runs from the
 * TypeScript sources (tests) and from the compiled build (production) without path tricks.
 * Append only; never edit an applied migration.
 */
const MIGRATIONS: ReadonlyArray<[string, Knex.Migration]> = [
  ['20261130_001_vault_meta', m20261130_001_vault_meta],
];

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => MIGRATIONS.map(([name]) => name),
  getMigrationName: (name) => name,
  getMigration: async (name) => {
    const found = MIGRATIONS.find(([candidate]) => candidate === name);
    if (!found) throw new Error(`unknown migration ${name}`);
    return found[1];
  },
};
