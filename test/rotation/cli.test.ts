import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/config';
import { startVault } from '../../src/cli/vault';
import { runCli } from '../support/cli-process';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { testCertificate } from '../support/test-vault';
import { emailsMismatching, insertSubjects } from './support/bulk-subjects';

jest.setTimeout(120_000);

describe('pdvault keys rotate', () => {
  let database: TestDatabase;
  let dataDir: string;
  afterAll(async () => {
    await database?.drop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('rotates the KEK from the command line, re-wrapping every subject key, and prints the finished job', async () => {
    database = await createTestDatabase();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pdvault-keys-cli-'));
    const tls = await testCertificate();
    const env = {
      PDVAULT_MODE: 'production',
      PDVAULT_DATA_DIR: dataDir,
      PDVAULT_KEY_PROVIDER: 'local',
      PDVAULT_ALLOW_LOCAL_KEYRING_IN_PRODUCTION: 'true',
      PDVAULT_TLS_CERT_FILE: tls.certFile,
      PDVAULT_TLS_KEY_FILE: tls.keyFile,
      DATABASE_URL: database.url,
      PDVAULT_PORT: '0',
      PDVAULT_HOST: '127.0.0.1',
      PDVAULT_ROTATION_POLL_MS: '100',
    };
    const seeding = await startVault(loadConfig(env), { logDestination: { write: () => true } as never });
    const subjects = await insertSubjects(seeding, 500).finally(() => seeding.stop());

    // An option that does not belong to the kind is refused before anything starts, as the API refuses the member.
    const refused = runCli(['keys', 'rotate', '--kind', 'kek', '--kms-key-id', 'alias/another'], env);
    expect((await refused.exited).code).not.toBe(0);
    expect(refused.stderr()).toContain('--kms-key-id is only for --kind kms_key');

    const run = runCli(['keys', 'rotate', '--kind', 'kek'], env);
    expect((await run.exited).code).toBe(0);
    const job = JSON.parse(run.stdout());
    expect(job).toEqual(expect.objectContaining({ kind: 'kek', state: 'succeeded', done: 500, total: 500, started_by: 'pdvault:cli' }));

    const reader = await startVault(loadConfig(env), { logDestination: { write: () => true } as never });
    try {
      const generations = await reader.db('kek_generations').select('id', 'state').orderBy('id');
      expect(generations).toEqual([
        { id: 1, state: 'retired' },
        { id: 2, state: 'active' },
      ]);
      expect(await reader.db('rotation_jobs').pluck('kind')).toEqual(['kek']);
      expect(await emailsMismatching(reader, subjects)).toEqual([]);
      const audited = await reader.db('audit_events').whereIn('action', ['keys.rotation.start', 'keys.rotation.finish']).select('action', 'client_id');
      expect(audited).toEqual(expect.arrayContaining([{ action: 'keys.rotation.start', client_id: 'pdvault:cli' }, { action: 'keys.rotation.finish', client_id: 'pdvault:cli' }]));
    } finally {
      await reader.stop();
    }
  });
});
