import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { loadConfig } from '../../src/config/config';
import { startVault } from '../../src/cli/vault';
import { startEmbeddedPostgres } from '../../src/store/embedded-postgres';
import { startPostgres } from '../faults/support/postgres';
import { runCli } from '../support/cli-process';
import { freePort } from '../support/ports';
import { createTestDatabase } from '../support/test-database';
import { productionEnv, testCertificate } from '../support/test-vault';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pdvault-embedded-'));
  fs.chmodSync(dir, 0o711);
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A cluster folder as a running PostgreSQL leaves it: initialised, with the pid of a live process. */
function clusterRunningAs(pid: number): string {
  const cluster = path.join(dir, 'postgres', 'cluster');
  fs.mkdirSync(cluster, { recursive: true });
  fs.writeFileSync(path.join(cluster, 'PG_VERSION'), '18\n');
  fs.writeFileSync(path.join(cluster, 'postmaster.pid'), `${pid}\n${cluster}\n`);
  return cluster;
}

describe("an embedded cluster already running in the data folder", () => {
  it('is refused in one line naming the process, not started a second time', async () => {
    const cluster = clusterRunningAs(process.pid);
    await expect(startEmbeddedPostgres({ dir: path.join(dir, 'postgres'), port: 1, database: 'pdvault' })).rejects.toThrow(
      `the embedded PostgreSQL in ${cluster} is already running (process ${process.pid})`,
    );
  });

  it('reaches the command line as that one line, never as "undefined"', async () => {
    clusterRunningAs(process.pid);
    const migrate = runCli(['migrate'], { PDVAULT_DATA_DIR: dir, PDVAULT_EMBEDDED_PG_PORT: '1' });
    expect((await migrate.exited).code).toBe(1);
    expect(migrate.stderr()).toMatch(new RegExp(`^pdvault: the embedded PostgreSQL in .* is already running \\(process ${process.pid}\\)`));
    expect(migrate.stderr()).not.toContain('undefined');
    expect(migrate.stdout()).toBe('');
  });
});

describe("an embedded PostgreSQL port another program holds", () => {
  it('is refused in one line naming the port and the setting that moves it, before anything is created', async () => {
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen({ port: 0, host: '127.0.0.1' }, resolve));
    const port = (squatter.address() as net.AddressInfo).port;
    try {
      const migrate = runCli(['migrate'], { PDVAULT_DATA_DIR: dir, PDVAULT_EMBEDDED_PG_PORT: String(port) });
      expect((await migrate.exited).code).toBe(1);
      expect(migrate.stderr()).toBe(`pdvault: port ${port} on 127.0.0.1, the embedded PostgreSQL's, is in use by another program: set PDVAULT_EMBEDDED_PG_PORT to a free port\n`);
      expect(fs.existsSync(path.join(dir, 'postgres', 'cluster'))).toBe(false);
    } finally {
      squatter.close();
    }
  });
});

describe('a command pointed at a data folder that holds no vault', () => {
  it.each([[['clients', 'list']], [['clients', 'create', '--name', 'mailer', '--scopes', 'emails:resolve', '--purposes', 'transactional_email']], [['keys', 'rotate', '--kind', 'kek']]])(
    'refuses %p in one line naming the folder, and makes no vault there',
    async (args) => {
      const command = runCli(args, { PDVAULT_DATA_DIR: dir, PDVAULT_EMBEDDED_PG_PORT: String(await freePort()) });
      expect((await command.exited).code).toBe(1);
      expect(command.stderr()).toBe(`pdvault: no vault in the data folder ${dir}: start one there first (npm start), or set PDVAULT_DATA_DIR to the data folder of the vault this command is for\n`);
      expect(command.stdout()).toBe('');
      expect(fs.readdirSync(dir)).toEqual([]);
    },
  );
});

describe('a command whose database does not answer', () => {
  it('says so on stderr, one line at a time, and prints nothing on stdout (which carries secrets)', async () => {
    const env = { PDVAULT_MODE: 'production', DATABASE_URL: 'postgres://root@127.0.0.1:1/none', PDVAULT_TLS_CERT_FILE: 'unused', PDVAULT_TLS_KEY_FILE: 'unused' };
    const list = runCli(['clients', 'list'], env);
    expect((await list.exited).code).toBe(1);
    expect(list.stdout()).toBe('');
    expect(list.stderr()).toMatch(/^pdvault: the database cannot be reached or refused the session: connect ECONNREFUSED 127\.0\.0\.1:1 \(check DATABASE_URL/m);
    expect(list.stderr()).not.toMatch(/^\s+at /m);
  });

  it('stops the vault at start with that one line, and logs no stack', async () => {
    const tls = await testCertificate();
    const env = productionEnv({ dataDir: dir, certFile: tls.certFile, keyFile: tls.keyFile, databaseUrl: 'postgres://root@127.0.0.1:1/none' });
    const start = runCli(['start'], env);
    expect((await start.exited).code).toBe(1);
    expect(start.stderr()).toMatch(/^pdvault: the database cannot be reached or refused the session: connect ECONNREFUSED 127\.0\.0\.1:1 \(check DATABASE_URL/m);
    const logged = start.stdout().split('\n').filter(Boolean).map((line) => JSON.parse(line) as { msg: string; component?: string });
    expect(logged).toContainEqual(expect.objectContaining({ component: 'database', msg: 'Acquire connection error: Error: connect ECONNREFUSED 127.0.0.1:1' }));
    expect(start.stdout() + start.stderr()).not.toMatch(/\s+at \S+ \(/);
  });
});

describe('a vault told not to migrate, on a database with pending migrations', () => {
  it('refuses to start, in one line, instead of serving 500s', async () => {
    const database = await createTestDatabase();
    const tls = await testCertificate();
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pdvault-unmigrated-'));
    const client = new Client({ connectionString: database.url });
    await client.connect();
    try {
      await client.query("delete from knex_migrations where name = (select max(name) from knex_migrations)");
      const config = loadConfig({ ...productionEnv({ dataDir, certFile: tls.certFile, keyFile: tls.keyFile, databaseUrl: database.url }), PDVAULT_MIGRATE_ON_START: 'false', PDVAULT_LOG_LEVEL: 'silent' });
      await expect(startVault(config)).rejects.toThrow('the database has pending migrations and PDVAULT_MIGRATE_ON_START is false; run `pdvault migrate` first');
    } finally {
      await client.end();
      await database.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('an embedded PostgreSQL a killed vault left running', () => {
  it('is stopped by the next start, which then starts as after any crash', async () => {
    const port = await freePort();
    const first = await startPostgres(path.join(dir, 'postgres'), port, 'pdvault');
    const url = first.url;
    await first.abandon();
    const leftBehind = postmasterPid();
    try {
      // Left behind: still running, with no session open on it.
      const probe = new Client({ connectionString: url });
      await probe.connect();
      await probe.end();

      const second = await startPostgres(path.join(dir, 'postgres'), port, 'pdvault');
      try {
        expect(second.log()).toMatch(/database system is ready to accept connections/);
        const client = new Client({ connectionString: second.url });
        await client.connect();
        expect((await client.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
        await client.end();
      } finally {
        await second.stop();
      }
    } finally {
      // Only should the test have failed with the server still there (its pid may be another's by now).
      if (leftBehind !== undefined && postmasterPid() === leftBehind) process.kill(leftBehind, 'SIGKILL');
    }
  });

  it('is not taken for left behind while the process that started it lives: that start is refused', async () => {
    const port = await freePort();
    const first = await startPostgres(path.join(dir, 'postgres'), port, 'pdvault');
    try {
      await expect(startPostgres(path.join(dir, 'postgres'), port, 'pdvault')).rejects.toThrow(/is already running \(process \d+\)/);
      const client = new Client({ connectionString: first.url });
      await client.connect();
      await client.end();
    } finally {
      await first.stop();
    }
  });
});

const postmasterPid = () => {
  try {
    return Number(fs.readFileSync(path.join(dir, 'postgres', 'cluster', 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return undefined;
  }
};
