import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { loadConfig } from '../../../src/config/config';
import { startVault, type RunningVault } from '../../../src/cli/vault';
import { runCli, type CliRun } from '../../support/cli-process';
import { createTestDatabase, type TestDatabase } from '../../support/test-database';
import { productionEnv, testCertificate } from '../../support/test-vault';
import { basic, type Credentials } from '../../identity/support/identity-helpers';
import { insertSubjects, type BulkSubject } from './bulk-subjects';

/** A database, a data folder (local keyring) and the environment a `pdvault start` process runs with. */
export interface VaultProcessRig {
  database: TestDatabase;
  env: Record<string, string>;
  ca: string;
  /** The vault in this process, for seeding and reading back (it takes no part in jobs). */
  inProcess(): Promise<RunningVault>;
  /** `pdvault start` as its own process, with a token of `admin`. */
  spawn(admin: Credentials, extraEnv?: Record<string, string>): Promise<{ run: CliRun; url: string; auth: string }>;
  cleanUp(): Promise<void>;
}

export async function vaultProcessRig(settings: Record<string, string>): Promise<VaultProcessRig> {
  const database = await createTestDatabase();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pdvault-rotation-'));
  const tls = await testCertificate();
  const env = {
    ...productionEnv({ dataDir, certFile: tls.certFile, keyFile: tls.keyFile, databaseUrl: database.url }),
    PDVAULT_DB_POOL_MAX: '4',
    PDVAULT_LOG_LEVEL: 'warn',
    ...settings,
  };
  const runs: CliRun[] = [];
  return {
    database,
    env,
    ca: tls.certPem,
    inProcess: () => startVault(loadConfig({ ...env, PDVAULT_ROTATION_WORKERS: '0' }), { logDestination: { write: () => true } as never }),
    async spawn(admin, extraEnv = {}) {
      const run = runCli(['start'], { ...env, ...extraEnv });
      runs.push(run);
      const [, url] = await run.waitFor(/listening on (https:\/\/\S+)/, 150_000);
      const token = await request(url!).post('/oauth/token').ca(tls.certPem).set('Authorization', basic(admin)).type('form').send({ grant_type: 'client_credentials', scope: 'admin:keys' }).expect(200);
      return { run, url: url!, auth: `Bearer ${token.body.access_token}` };
    },
    async cleanUp() {
      for (const run of runs) if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
      await database.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Registers an admin client with `admin:keys` directly (as the CLI does). */
export async function registerKeyAdmin(vault: RunningVault): Promise<Credentials> {
  const issued = await vault.identity.clients.register({ name: `security-team-${Date.now()}`, kind: 'internal', scopes: ['admin:keys'], purposes: [] }, { via: 'cli' });
  return { clientId: issued.client_id, clientSecret: issued.client_secret };
}

/** Polls a job through a process's API until it is no longer running. */
export async function waitForJobAt(url: string, ca: string, auth: string, jobId: string, until: (job: { state: string; done: number }) => boolean = (job) => job.state !== 'running') {
  for (;;) {
    const job = (await request(url).get(`/v1/admin/jobs/${jobId}`).ca(ca).set('Authorization', auth).expect(200)).body;
    if (until(job)) return job;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * A rig whose database already holds `count` subjects and a key admin, made in-process before
 * any vault process starts: the setup every multi-process rotation test shares.
 */
export async function seededRig(settings: Record<string, string>, count: number): Promise<{ rig: VaultProcessRig; subjects: BulkSubject[]; admin: Credentials }> {
  const rig = await vaultProcessRig(settings);
  const seeding = await rig.inProcess();
  try {
    return { rig, admin: await registerKeyAdmin(seeding), subjects: await insertSubjects(seeding, count) };
  } finally {
    await seeding.stop();
  }
}
