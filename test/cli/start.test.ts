import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { Client } from 'pg';
import { freePort } from '../support/ports';
import { runCli } from '../support/cli-process';

jest.setTimeout(120_000);

async function installationId(dataDir: string, port: number): Promise<string> {
  const password = fs.readFileSync(path.join(dataDir, 'postgres', 'password'), 'utf8');
  const client = new Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'pdvault' });
  await client.connect();
  try {
    const { rows } = await client.query("select value from vault_meta where key = 'installation_id'");
    return rows[0].value;
  } finally {
    await client.end();
  }
}

/** A data folder for one describe's tests: made in beforeAll, so a run that skips them leaves none behind, and removed after. */
function dataFolderForTests(): { readonly path: string } {
  const folder = { path: '' };
  beforeAll(() => {
    folder.path = fs.mkdtempSync(path.join(os.tmpdir(), 'pdvault-start-'));
    fs.chmodSync(folder.path, 0o711);
  });
  afterAll(() => fs.rmSync(folder.path, { recursive: true, force: true }));
  return folder;
}

describe('pdvault start (development)', () => {
  const folder = dataFolderForTests();

  it('runs with everything embedded, prints its https URL, stops on SIGTERM with 0, and reuses its data on the next start', async () => {
    const dataDir = folder.path;
    const pgPort = await freePort();
    const env = { PDVAULT_DATA_DIR: dataDir, PDVAULT_PORT: '0', PDVAULT_EMBEDDED_PG_PORT: String(pgPort) };

    const first = runCli(['start'], env);
    const [, url] = await first.waitFor(/listening on (https:\/\/localhost:\d+)/);
    const cert = fs.readFileSync(path.join(dataDir, 'tls', 'cert.pem'), 'utf8');
    expect((fs.statSync(path.join(dataDir, 'tls', 'key.pem')).mode & 0o777).toString(8)).toBe('600');
    await request(url!).get('/healthz').ca(cert).expect(200, { status: 'ok' });
    const id = await installationId(dataDir, pgPort);
    first.child.kill('SIGTERM');
    expect(await first.exited).toEqual({ code: 0, signal: null });

    // Someone opened the folder up in between: the next start closes it again.
    fs.chmodSync(dataDir, 0o777);
    const second = runCli(['start'], env);
    const [, secondUrl] = await second.waitFor(/listening on (https:\/\/localhost:\d+)/);
    expect((fs.statSync(dataDir).mode & 0o777).toString(8)).toBe('711');
    expect(fs.readFileSync(path.join(dataDir, 'tls', 'cert.pem'), 'utf8')).toBe(cert);
    await request(secondUrl!).get('/readyz').ca(cert).expect(200);
    expect(await installationId(dataDir, pgPort)).toBe(id);
    // A command beside it, in a shell that does not hold the vault's PDVAULT_EMBEDDED_PG_PORT, finds its database all the same.
    const listing = runCli(['clients', 'list'], { PDVAULT_DATA_DIR: dataDir });
    expect([await listing.exited, listing.stderr()]).toEqual([{ code: 0, signal: null }, '']);
    expect(JSON.parse(listing.stdout())).toEqual(expect.arrayContaining([expect.objectContaining({ name: expect.any(String) })]));
    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  });
});

describe('pdvault start (development), when its embedded PostgreSQL dies under it', () => {
  const folder = dataFolderForTests();

  it('stops too, with status 1 and the reason in its log, so whatever restarts it restarts both', async () => {
    const dataDir = folder.path;
    const run = runCli(['start'], { PDVAULT_DATA_DIR: dataDir, PDVAULT_PORT: '0', PDVAULT_EMBEDDED_PG_PORT: String(await freePort()) });
    try {
      await run.waitFor(/try: curl/);
      const postgres = Number(fs.readFileSync(path.join(dataDir, 'postgres', 'cluster', 'postmaster.pid'), 'utf8').split('\n')[0]);

      process.kill(postgres, 'SIGKILL');

      const exited = await run.exited;
      expect([exited.code, run.stdout()]).toEqual([1, expect.stringMatching(/the embedded PostgreSQL stopped unexpectedly; the vault stops too/)]);
    } finally {
      // Should it not have stopped, it must not outlive the test.
      run.child.kill('SIGKILL');
    }
  });
});

// Only root runs the embedded server as another user (postgres), who must pass through every folder above its data.
const asRoot = process.getuid?.() === 0;
(asRoot ? it : it.skip)('as root, refuses in one line a data folder the postgres user cannot reach, naming the folder', async () => {
  const closed = fs.mkdtempSync(path.join(os.tmpdir(), 'pdvault-closed-'));
  try {
    expect(fs.statSync(closed).mode & 0o777).toBe(0o700);
    const run = runCli(['start'], { PDVAULT_DATA_DIR: path.join(closed, 'data'), PDVAULT_PORT: '0', PDVAULT_EMBEDDED_PG_PORT: String(await freePort()) });
    expect((await run.exited).code).toBe(1);
    expect(run.stderr()).toMatch(new RegExp(`^pdvault: the embedded PostgreSQL runs as the postgres user, which cannot pass through ${closed} .*\n$`));
  } finally {
    fs.rmSync(closed, { recursive: true, force: true });
  }
});

describe('pdvault start (production)', () => {
  it('refuses to start without DATABASE_URL, naming it in one line', async () => {
    const run = runCli(['start'], { PDVAULT_MODE: 'production', PDVAULT_TLS_CERT_FILE: '/nonexistent/c.pem', PDVAULT_TLS_KEY_FILE: '/nonexistent/k.pem' });
    expect((await run.exited).code).toBe(1);
    expect(run.stderr()).toBe('pdvault: DATABASE_URL is required in production mode\n');
  });

  it('refuses to start with a certificate file it cannot read, naming the setting in one line, before it reaches for the database', async () => {
    const run = runCli(['start'], { PDVAULT_MODE: 'production', DATABASE_URL: 'postgres://127.0.0.1:1/x', PDVAULT_TLS_CERT_FILE: '/nonexistent/c.pem', PDVAULT_TLS_KEY_FILE: '/nonexistent/k.pem' });
    expect((await run.exited).code).toBe(1);
    expect(run.stderr()).toMatch(/^pdvault: PDVAULT_TLS_CERT_FILE cannot be read: \/nonexistent\/c\.pem \(ENOENT\)\n$/);
  });

  it('refuses to start without a certificate file', async () => {
    const run = runCli(['start'], { PDVAULT_MODE: 'production', DATABASE_URL: 'postgres://127.0.0.1:1/x' });
    expect((await run.exited).code).toBe(1);
    expect(run.stderr()).toBe('pdvault: PDVAULT_TLS_CERT_FILE is required in production mode\n');
  });
});
