import crypto from 'node:crypto';
import request from 'supertest';
import { startVault, type RunningVault } from '../../src/cli/vault';
import { expectMatchesSpec } from '../support/openapi';
import { startTestVault, type TestVault } from '../support/test-vault';
import { adminCaller, bearer, contextFor, dataCaller, newSubjectId, type Caller } from '../policy/support/principals';
import { requestToken } from '../identity/support/identity-helpers';

/**
 * The vault run as an ordinary (non-superuser) role that may read everything but not insert
 * into the audit table, as an operator who revoked the right would leave it. Tokens come from
 * a first vault on the same database, which can still write its own events.
 */
let vault: TestVault;
let restricted: RunningVault;
let role: string;
let auditor: Caller;
let shipping: Caller;
beforeAll(async () => {
  vault = await startTestVault();
  auditor = await adminCaller(vault, ['audit:read']);
  shipping = await dataCaller(vault, 'subjects:read', 'shipping', 'contractor');

  role = `pdvault_app_${crypto.randomBytes(4).toString('hex')}`;
  const password = crypto.randomBytes(18).toString('base64url');
  const db = vault.vault.db;
  await db.raw(`create role ${role} login password '${password}'`);
  await db.raw(`grant connect on database ${vault.database.name} to ${role}`);
  await db.raw(`grant usage on schema public to ${role}`);
  await db.raw(`grant select, insert, update, delete on all tables in schema public to ${role}`);
  await db.raw(`grant usage, select on all sequences in schema public to ${role}`);
  await db.raw(`revoke insert on audit_events from ${role}`);

  const config = structuredClone(vault.config);
  const url = new URL(vault.database.url);
  url.username = role;
  url.password = password;
  config.database.url = url.toString();
  config.database.migrateOnStart = false;
  config.http.port = 0;
  restricted = await startVault(config, { logDestination: { write: () => true } as never });
});
afterAll(async () => {
  await restricted?.stop();
  await vault.vault.db.raw(`drop owned by ${role}`).catch(() => undefined);
  await vault.stop();
  const admin = await import('pg');
  const client = new admin.Client({ connectionString: process.env.VAULT_TEST_ADMIN_URL });
  await client.connect();
  await client.query(`drop role if exists ${role}`).finally(() => client.end());
});

const call = (path: string) => request(`https://localhost:${restricted.port}`).get(path).ca(vault.ca).expect(expectMatchesSpec);

describe('when the audit table refuses inserts', () => {
  it('the decision point refuses to decide (so a route reveals nothing) with 503 audit_unavailable', async () => {
    await expect(
      restricted.policy.decisions.decide(shipping.principal, 'subjects.read', { id: newSubjectId() }, ['name', 'postal_address'], contextFor('no-insert')),
    ).rejects.toMatchObject({ code: 'audit_unavailable', status: 503 });
  });

  it('reading the trail answers 503 audit_unavailable and reveals nothing', async () => {
    const res = await call('/v1/admin/audit').set(bearer(auditor)).expect(503);
    expect(res.body).toMatchObject({ code: 'audit_unavailable' });
    expect(res.body.events).toBeUndefined();
    const log = await call(`/v1/subjects/${newSubjectId()}/access-log`).set(bearer(auditor)).expect(503);
    expect(log.body.code).toBe('audit_unavailable');
  });

  it('the token endpoint issues no token it cannot audit', async () => {
    const url = `https://localhost:${restricted.port}`;
    const res = await requestToken({ post: (p: string) => request(url).post(p).ca(vault.ca) } as unknown as TestVault, shipping.credentials, {
      grant_type: 'client_credentials',
      scope: 'subjects:read',
      purpose: 'shipping',
    });
    expect(res.status).toBe(503);
    expect(res.body.access_token).toBeUndefined();
  });

  it('the same vault decides again once the right is given back', async () => {
    await vault.vault.db.raw(`grant insert on audit_events to ${role}`);
    const decision = await restricted.policy.decisions.decide(shipping.principal, 'subjects.read', { id: newSubjectId() }, ['name'], contextFor('restored'));
    expect(decision.allowed).toBe(true);
  });
});
