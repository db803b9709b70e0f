import request from 'supertest';
import { startVault } from '../../src/cli/vault';
import { expectMatchesSpec } from '../support/openapi';
import { startStallingProxy } from '../support/tcp-proxy';
import { startTestVault, type TestVault } from '../support/test-vault';
import { accountService, createSubject } from '../vault/support/data-callers';

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

describe('a database that stops answering (packets dropped, no reset)', () => {
  it('answers 503 database_unavailable once the client-side timeout passes, and serves again when the network returns', async () => {
    const proxy = await startStallingProxy(Number(new URL(vault.config.database.url!).port));
    const config = structuredClone(vault.config);
    config.http.port = 0;
    const url = new URL(vault.config.database.url!);
    url.port = String(proxy.port);
    config.database.url = url.toString();
    const second = await startVault(config, { logDestination: { write: () => true } as never });
    const call = (path: string, token: string) => request(`https://localhost:${second.port}`).get(path).ca(vault.ca).set('Authorization', `Bearer ${token}`).expect(expectMatchesSpec);
    try {
      const account = await accountService(vault);
      const { id } = await createSubject(vault, account, { email: 'stall@example.com' });
      await call(`/v1/subjects/${id}`, account.token).expect(200);

      proxy.stall();
      const stalled = await call(`/v1/subjects/${id}`, account.token).expect(503);
      expect(stalled.body).toMatchObject({ code: 'database_unavailable' });
      expect(stalled.headers['retry-after']).toBe('1');

      proxy.resume();
      // The session left waiting for the dropped query's answer is closed, not handed out again.
      await call(`/v1/subjects/${id}`, account.token).expect(200);
    } finally {
      await second.stop();
      await proxy.close();
    }
  });
});
