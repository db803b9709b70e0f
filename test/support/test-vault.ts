import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import request from 'supertest';
import { loadConfig, type Config } from '../../src/config/config';
import { createSelfSigned } from '../../src/cli/development-certificate';
import { startVault, type RunningVault } from '../../src/cli/vault';
import { expectMatchesSpec } from './openapi';
import { createTestDatabase, RUN_DIR_ENV, type TestDatabase } from './test-database';

export interface TestVault {
  vault: RunningVault;
  config: Config;
  database: TestDatabase;
  url: string;
  /** The CA a client must trust: the test certificate itself. */
  ca: string;
  /** Every log line the vault wrote, as text. */
  logs: string[];
  get(path: string): request.Test;
  post(path: string): request.Test;
  put(path: string): request.Test;
  patch(path: string): request.Test;
  delete(path: string): request.Test;
  /** A request whose answer is not held to openapi.yaml: for answers Node's parser gives before the app runs, and methods no route declares. */
  unchecked(method: 'get' | 'post' | 'head', path: string): request.Test;
  stop(): Promise<void>;
}

let certificate: { dir: string; certFile: string; keyFile: string; certPem: string } | undefined;

export async function testCertificate() {
  if (!certificate) {
    // Inside the run's folder, which the global teardown removes (a test process may be killed before any exit handler).
    const dir = fs.mkdtempSync(path.join(process.env[RUN_DIR_ENV] ?? os.tmpdir(), 'pdvault-test-tls-'));
    const { certPem, keyPem } = await createSelfSigned(['localhost'], ['127.0.0.1', '::1']);
    fs.writeFileSync(path.join(dir, 'cert.pem'), certPem);
    fs.writeFileSync(path.join(dir, 'key.pem'), keyPem, { mode: 0o600 });
    certificate = { dir, certFile: path.join(dir, 'cert.pem'), keyFile: path.join(dir, 'key.pem'), certPem };
  }
  return certificate;
}

/**
 * The settings of a vault under test, as its environment would give them: production mode on a
 * free loopback port, the test certificate, the local keyring (explicitly allowed), its own
 * database and data folder, a small pool.
 */
export function productionEnv(place: { dataDir: string; certFile: string; keyFile: string; databaseUrl: string }): Record<string, string> {
  return {
    PDVAULT_MODE: 'production',
    PDVAULT_HOST: '127.0.0.1',
    PDVAULT_PORT: '0',
    PDVAULT_DATA_DIR: place.dataDir,
    PDVAULT_KEY_PROVIDER: 'local',
    PDVAULT_ALLOW_LOCAL_KEYRING_IN_PRODUCTION: 'true',
    PDVAULT_TLS_CERT_FILE: place.certFile,
    PDVAULT_TLS_KEY_FILE: place.keyFile,
    DATABASE_URL: place.databaseUrl,
    PDVAULT_DB_POOL_MAX: '4',
  };
}

/**
 * The real vault, on a free port over real TLS, against a database of its own. `env` adds or
 * overrides settings exactly as the environment would. Keys come from a local keyring in a
 * data folder of the vault's own (production mode, explicitly allowed); to use the AWS
 * provider against the loopback KMS server, pass `kmsEnv(server)` from ./kms-server.
 */
export async function startTestVault(env: Record<string, string> = {}): Promise<TestVault> {
  const tls = await testCertificate();
  const database = await createTestDatabase();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pdvault-test-vault-'));
  if (env.PDVAULT_KEY_PROVIDER === 'aws') useDummyAwsCredentials();
  const config = loadConfig({
    ...productionEnv({ dataDir, certFile: tls.certFile, keyFile: tls.keyFile, databaseUrl: database.url }),
    PDVAULT_SHUTDOWN_GRACE_MS: '2000',
    ...env,
  });
  const logs: string[] = [];
  const logDestination = new Writable({
    write(chunk, _encoding, done) {
      logs.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const vault = await startVault(config, { logDestination }).catch(async (error) => {
    fs.rmSync(dataDir, { recursive: true, force: true });
    await database.drop();
    throw error;
  });
  const url = `https://localhost:${vault.port}`;
  // Every response a test receives is held to openapi.yaml.
  const call = (method: 'get' | 'post' | 'put' | 'patch' | 'delete') => (p: string) =>
    request(url)[method](p).ca(tls.certPem).expect(expectMatchesSpec);
  return {
    vault,
    config,
    database,
    url,
    ca: tls.certPem,
    logs,
    get: call('get'),
    post: call('post'),
    put: call('put'),
    patch: call('patch'),
    delete: call('delete'),
    unchecked: (method, p) => request(url)[method](p).ca(tls.certPem),
    async stop() {
      await vault.stop();
      await database.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * The AWS SDK's standard credential chain reads these first; the loopback KMS server ignores
 * signatures. Set only when absent, and IMDS is turned off so no test waits on 169.254.169.254.
 */
function useDummyAwsCredentials(): void {
  process.env.AWS_ACCESS_KEY_ID ??= 'AKIDTESTVAULT';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test-secret-not-used';
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
}
