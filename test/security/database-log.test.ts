import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPostgres, type PostgresProcess } from '../faults/support/postgres';
import { freePort } from '../support/ports';
import { startTestVault, type TestVault } from '../support/test-vault';
import { accountService, auth, createSubject, type Caller } from '../vault/support/data-callers';

// The embedded server's log reaches the vault's own log (at debug level) in development.
let pgDir: string;
let cluster: PostgresProcess;
let vault: TestVault;
let account: Caller;

beforeAll(async () => {
  pgDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pdvault-pg-log-'));
  cluster = await startPostgres(pgDir, await freePort(), 'pdvault_log');
  vault = await startTestVault({ DATABASE_URL: cluster.url });
  account = await accountService(vault);
});
afterAll(async () => {
  try {
    // The test stopped the server under the vault: its stop may fail, and the rest must run all the same.
    await vault?.stop().catch(() => undefined);
    await cluster?.stop();
  } finally {
    fs.rmSync(pgDir, { recursive: true, force: true });
  }
});

describe("the embedded PostgreSQL's log, as the vault receives it", () => {
  it('keeps no value a refused statement quoted, but keeps the server\'s own lines', async () => {
    await createSubject(vault, account, { external_id: 'acct-canary-5521', name: 'First Holder' });
    const taken = await vault.post('/v1/subjects').set('Authorization', auth(account)).send({ external_id: 'acct-canary-5521', name: 'Second Holder' });
    expect([taken.status, taken.body.code]).toEqual([409, 'external_id_taken']);
    // A value of the wrong type is quoted in the ERROR line itself.
    await expect(vault.vault.db.raw("select 'canary-int-7788'::int")).rejects.toThrow();
    await cluster.stop();

    const log = cluster.log();
    expect(log).not.toMatch(/canary/i);
    expect(log).toMatch(/database system is ready to accept connections/);
    expect(log).toMatch(/database system is shut down/);
  });
});
