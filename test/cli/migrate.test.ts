import { runCli } from '../support/cli-process';
import { createTestDatabase } from '../support/test-database';
import { Client } from 'pg';

jest.setTimeout(60_000);

it('applies pending migrations with `pdvault migrate` and reports nothing to do the second time', async () => {
  const database = await createTestDatabase();
  const client = new Client({ connectionString: database.url });
  await client.connect();
  try {
    // Start from an empty schema: the clone arrives migrated, so undo that first.
    await client.query('drop schema public cascade; create schema public');
    const env = { PDVAULT_MODE: 'production', DATABASE_URL: database.url, PDVAULT_TLS_CERT_FILE: 'unused', PDVAULT_TLS_KEY_FILE: 'unused' };
    const first = runCli(['migrate'], env);
    expect((await first.exited).code).toBe(0);
    expect(first.stdout()).toMatch(/^applied: 20261130_001_vault_meta/);
    const { rows } = await client.query("select count(*)::int as n from vault_meta where key = 'installation_id'");
    expect(rows[0].n).toBe(1);

    const second = runCli(['migrate'], env);
    expect((await second.exited).code).toBe(0);
    expect(second.stdout()).toBe('already up to date\n');
  } finally {
    await client.end();
    await database.drop();
  }
});
