import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { createSelfSigned } from '../../src/cli/development-certificate';
import { loadConfig, type Config } from '../../src/config/config';
import { startEmbeddedPostgres, type EmbeddedCluster } from '../../src/store/embedded-postgres';
import { freePort } from '../../test/support/ports';

/**
 * Everything the vault, the baseline and the loader share: one PostgreSQL database made for
 * this run (an embedded server, or a fresh database on DATABASE_URL's server), a data folder
 * holding the local keyring, and a self-signed ECDSA P-256 certificate.
 */
export interface BenchEnvironment {
  databaseUrl: string;
  dataDir: string;
  certFile: string;
  keyFile: string;
  certPem: string;
  /** The settings every vault child starts with, as the environment would give them. */
  vaultEnv: Record<string, string>;
  /** The config loadConfig builds from vaultEnv (for the pool size, the loader's keys). */
  config: Config;
  /** A second, empty database on the same server (dropped by close), for a vault beside the first. */
  anotherDatabase(): Promise<string>;
  close(): Promise<void>;
}

export interface EnvironmentSizing {
  /** The vault's PDVAULT_SUBJECT_KEY_CACHE_ENTRIES, or 0 for its default. */
  subjectKeyCache?: number;
  /** The embedded server's shared_buffers in MiB, or 0 for its default (a DATABASE_URL server keeps its own). */
  databaseCacheMb?: number;
}

export async function prepareEnvironment(serverUrl: string | undefined, { subjectKeyCache = 0, databaseCacheMb = 0 }: EnvironmentSizing = {}): Promise<BenchEnvironment> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pdvault-bench-http-'));
  fs.chmodSync(root, 0o711);
  const cleanups: Array<() => Promise<void>> = [async () => fs.rmSync(root, { recursive: true, force: true })];
  try {
    const database = serverUrl ? await freshDatabase(serverUrl) : await embeddedDatabase(path.join(root, 'postgres'), databaseCacheMb);
    cleanups.unshift(database.drop);
    const dataDir = path.join(root, 'vault');
    fs.mkdirSync(dataDir, { mode: 0o700 });
    const { certPem, keyPem } = await createSelfSigned(['localhost'], ['127.0.0.1']);
    const certFile = path.join(root, 'cert.pem');
    const keyFile = path.join(root, 'key.pem');
    fs.writeFileSync(certFile, certPem);
    fs.writeFileSync(keyFile, keyPem, { mode: 0o600 });
    const vaultEnv: Record<string, string> = {
      PDVAULT_MODE: 'production',
      PDVAULT_HOST: '127.0.0.1',
      PDVAULT_PORT: '0',
      PDVAULT_DATA_DIR: dataDir,
      PDVAULT_KEY_PROVIDER: 'local',
      PDVAULT_ALLOW_LOCAL_KEYRING_IN_PRODUCTION: 'true',
      PDVAULT_TLS_CERT_FILE: certFile,
      PDVAULT_TLS_KEY_FILE: keyFile,
      PDVAULT_TLS_MIN_VERSION: 'TLSv1.3',
      DATABASE_URL: database.url,
      // The longest lifetime allowed, so one token lasts a whole measurement.
      PDVAULT_TOKEN_TTL_SECONDS: '900',
      ...(subjectKeyCache > 0 ? { PDVAULT_SUBJECT_KEY_CACHE_ENTRIES: String(subjectKeyCache) } : {}),
    };
    return {
      databaseUrl: database.url,
      dataDir,
      certFile,
      keyFile,
      certPem,
      vaultEnv,
      config: loadConfig(vaultEnv),
      async anotherDatabase() {
        const another = await freshDatabase(database.url);
        // Dropped before the embedded server stops.
        cleanups.unshift(another.drop);
        return another.url;
      },
      async close() {
        for (const cleanup of cleanups) await cleanup().catch(() => undefined);
      },
    };
  } catch (error) {
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
    throw error;
  }
}

async function embeddedDatabase(dir: string, cacheMb: number): Promise<{ url: string; drop(): Promise<void> }> {
  const settings: Record<string, string> = cacheMb > 0 ? { shared_buffers: `${cacheMb}MB` } : {};
  const cluster: EmbeddedCluster = await startEmbeddedPostgres({ dir, port: await freePort(), database: 'pdvault_bench', settings });
  return { url: cluster.url, drop: () => cluster.stop() };
}

/** A database of its own on a given server, dropped afterwards: the run never touches existing data. */
export async function freshDatabase(serverUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `pdvault_bench_${crypto.randomBytes(4).toString('hex')}`;
  const admin = new URL(serverUrl);
  admin.pathname = '/postgres';
  const run = async (sql: string) => {
    const client = new Client({ connectionString: admin.toString() });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await run(`create database "${name}"`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => run(`drop database if exists "${name}" with (force)`) };
}
