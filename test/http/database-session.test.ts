import { startTestVault, type TestVault } from '../support/test-vault';

let vault: TestVault;
beforeAll(async () => {
  vault = await startTestVault({ PDVAULT_DB_STATEMENT_TIMEOUT_MS: '1234', PDVAULT_DB_APPLICATION_NAME: 'pdvault-session-test' });
});
afterAll(() => vault.stop());

it('opens database sessions with the configured statement timeout and application name', async () => {
  const { rows } = await vault.vault.db.raw("select current_setting('statement_timeout') as timeout, current_setting('application_name') as name");
  expect(rows[0]).toEqual({ timeout: '1234ms', name: 'pdvault-session-test' });
});

it('cancels a statement that runs past the statement timeout', async () => {
  await expect(vault.vault.db.raw('select pg_sleep(3)')).rejects.toThrow(/statement timeout/);
});
