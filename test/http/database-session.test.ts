import { Client } from 'pg';
import request from 'supertest';
import { startVault } from '../../src/cli/vault';
import { openDatabase } from '../../src/store/database';
import { expectMatchesSpec } from '../support/openapi';
import { describeError } from '../../src/observability/logger';
import { holdRowLocks } from '../support/row-lock';
import { startStallingProxy } from '../support/tcp-proxy';
import { eventually } from '../support/eventually';
import { ADMIN_URL_ENV } from '../support/test-database';
import { startTestVault, type TestVault } from '../support/test-vault';
import { accountService, auth, createSubject } from '../vault/support/data-callers';

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

it('logs a failed query without the values bound to it or quoted back by PostgreSQL', async () => {
  const failed = await vault.vault.db.raw('select ?::int as n', ['canary-jo@example.com']).catch((error: unknown) => error);
  const described = describeError(failed);
  expect(described).toMatchObject({ code: '22P02', routine: expect.any(String) });
  expect(String(described.stack)).toMatch(/^ {4}at /);
  expect(JSON.stringify(described)).not.toContain('canary');
});

it('answers 503 database_busy, and changes nothing, when a write waits on a row lock past the statement timeout', async () => {
  const account = await accountService(vault);
  const { id, etag } = await createSubject(vault, account, { email: 'busy@example.com', name: 'Before' });
  const lock = await holdRowLocks(vault.config.database.url!, 'select 1 from subjects where id = $1 for update', [id]);
  try {
    const busy = await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('If-Match', etag).send({ name: 'After' }).expect(expectMatchesSpec).expect(503);
    expect(busy.body).toMatchObject({ code: 'database_busy' });
    expect(busy.headers['retry-after']).toBe('1');
  } finally {
    await lock.release();
  }
  const after = await vault.get(`/v1/subjects/${id}`).set('Authorization', auth(account)).expect(200);
  expect(after.body).toMatchObject({ name: 'Before', version: 1 });
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

describe('a session whose transaction was cut off by a silent network', () => {
  it('is not handed out again once the network returns: a later write is committed on its own, the cut-off one never', async () => {
    const proxy = await startStallingProxy(Number(new URL(vault.config.database.url!).port));
    const url = new URL(vault.config.database.url!);
    url.port = String(proxy.port);
    // One session, so the write after the outage must get the session the transaction left.
    const db = openDatabase({ ...vault.config.database, poolMax: 1, statementTimeoutMs: 500 }, url.toString());
    await vault.vault.db.raw('create table stalled_writes (note text)');
    try {
      const cutOff = db.transaction(async (trx) => {
        await trx('stalled_writes').insert({ note: 'inside the cut-off transaction' });
        proxy.stall();
        await trx.raw('select 1');
      });
      // The select and then the rollback behind it both time out on the client.
      await expect(cutOff).rejects.toThrow(/Query read timeout/);
      proxy.resume();
      // Time for the held answer to the select to arrive: the session then looks ready, but is inside the transaction.
      await new Promise((resolve) => setTimeout(resolve, 300));

      await db('stalled_writes').insert({ note: 'a write on its own' });
      const seen = await vault.vault.db('stalled_writes').pluck('note');
      expect(seen).toEqual(['a write on its own']);
    } finally {
      await db.destroy();
      await proxy.close();
      await vault.vault.db.raw('drop table stalled_writes');
    }
  });
});

describe('a database that refuses new sessions', () => {
  it('answers 503 database_unavailable with Retry-After while it is not accepting connections, and serves again after', async () => {
    const own = await startTestVault();
    const name = own.database.name;
    const admin = new Client({ connectionString: process.env[ADMIN_URL_ENV] });
    await admin.connect();
    try {
      const account = await accountService(own);
      const { id } = await createSubject(own, account, { email: 'refused@example.com' });
      // SQLSTATE 55000 at connection time, as after ALLOW_CONNECTIONS false or during a maintenance window.
      await admin.query(`alter database ${name} allow_connections false`);
      await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1', [name]);

      const refused = await own.get(`/v1/subjects/${id}`).set('Authorization', auth(account)).expect(503);
      expect(refused.body).toMatchObject({ code: 'database_unavailable' });
      expect(refused.headers['retry-after']).toBe('1');

      await admin.query(`alter database ${name} allow_connections true`);
      await eventually(async () => (await own.get(`/v1/subjects/${id}`).set('Authorization', auth(account))).status === 200, 'the vault serving again');
    } finally {
      await admin.query(`alter database ${name} allow_connections true`).catch(() => undefined);
      await admin.end();
      await own.stop();
    }
  });
});
