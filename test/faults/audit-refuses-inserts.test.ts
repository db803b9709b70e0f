import crypto from 'node:crypto';
import { Client } from 'pg';
import request from 'supertest';
import { startVault, type RunningVault } from '../../src/cli/vault';
import { accessToken } from '../identity/support/identity-helpers';
import { callerWith } from '../policy/support/principals';
import { expectMatchesSpec } from '../support/openapi';
import { startTestVault, type TestVault } from '../support/test-vault';
import { accountService, auth, createSubject, mailer, SAMPLE, type Caller } from '../vault/support/data-callers';
import { answered, attempt, describeOutcome, pollUntil, type Outcome } from './support/bounded';

/**
 * The audit table stops accepting inserts while reveal traffic runs: the vault under test runs
 * as an ordinary (non-superuser) role, and INSERT on audit_events is revoked from that role
 * (or a trigger refuses every insert), then allowed again, as an operator (or an attacker) might. Tokens, subjects and the card come
 * from a first vault on the same database, which the revocation does not touch.
 */
const CARD = { number: '4242424242424242', exp_month: 12, exp_year: new Date().getUTCFullYear() + 3, holder_name: 'Jo Example' };
/** The traffic stops after this many reveals, whatever happens. */
const MAX_REVEALS = 2000;

let vault: TestVault;
let restricted: RunningVault;
let role: string;
let account: Caller;
let transactional: Caller;
let processing: string;
const subjects: Array<{ id: string; email: string; name: string }> = [];
let cardToken: string;

beforeAll(async () => {
  vault = await startTestVault();
  account = await accountService(vault);
  transactional = await mailer(vault, 'transactional_email');
  const billing = await callerWith(vault, { scopes: ['payment_methods:read', 'payment_methods:reveal'], purposes: ['billing', 'payment_processing'] }, 'payment_methods:read', 'billing');
  processing = await accessToken(vault, billing.credentials, { scope: 'payment_methods:read payment_methods:reveal', purpose: 'payment_processing' });
  for (let i = 0; i < 3; i++) {
    const fields = { ...SAMPLE, email: `audited${i}@example.com`, name: `Audited Person ${i}` };
    subjects.push({ id: (await createSubject(vault, account, fields)).id, email: fields.email, name: fields.name });
  }
  const card = await vault.post(`/v1/subjects/${subjects[0]!.id}/payment-methods`).set('Authorization', auth(account)).send(CARD).expect(201);
  cardToken = card.body.token;

  role = `pdvault_fault_${crypto.randomBytes(4).toString('hex')}`;
  const password = crypto.randomBytes(18).toString('base64url');
  const db = vault.vault.db;
  await db.raw(`create role ${role} login password '${password}'`);
  await db.raw(`grant connect on database ${vault.database.name} to ${role}`);
  await db.raw(`grant usage on schema public to ${role}`);
  await db.raw(`grant select, insert, update, delete on all tables in schema public to ${role}`);
  await db.raw(`grant usage, select on all sequences in schema public to ${role}`);

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
  if (vault) {
    await vault.vault.db.raw(`drop owned by ${role}`).catch(() => undefined);
    await vault.stop();
    const admin = new Client({ connectionString: process.env.VAULT_TEST_ADMIN_URL });
    await admin.connect();
    await admin.query(`drop role if exists ${role}`).finally(() => admin.end());
  }
});

const call = (method: 'get' | 'post', path: string) => request(`https://localhost:${restricted.port}`)[method](path).ca(vault.ca).expect(expectMatchesSpec);

type RevealKind = 'email' | 'batch' | 'subject' | 'card';
const KINDS: RevealKind[] = ['email', 'batch', 'subject', 'card'];

/** One reveal of each kind: what a mailer, the account service and the payment processor ask for. */
function reveal(kind: RevealKind, n: number): Promise<Outcome> {
  const subject = subjects[n % subjects.length]!;
  switch (kind) {
    case 'email':
      return attempt(call('get', `/v1/subjects/${subject.id}/email`).set('Authorization', auth(transactional)));
    case 'batch':
      return attempt(call('post', '/v1/emails/resolve').set('Authorization', auth(transactional)).send({ subject_ids: subjects.map((s) => s.id) }));
    case 'subject':
      return attempt(call('get', `/v1/subjects/${subject.id}`).set('Authorization', auth(account)));
    case 'card':
      return attempt(call('post', `/v1/payment-methods/${cardToken}/reveal`).set('Authorization', `Bearer ${processing}`));
  }
}

/** What a successful reveal of this kind must contain. */
function expectRevealed(kind: RevealKind, n: number, outcome: Outcome): void {
  const subject = subjects[n % subjects.length]!;
  expect(describeOutcome(outcome)).toBe('200');
  if (!answered(outcome)) return;
  if (kind === 'email') expect(outcome.body).toEqual({ subject_id: subject.id, email: subject.email });
  if (kind === 'batch') expect(outcome.text).toContain(subjects[2]!.email);
  if (kind === 'subject') expect(outcome.body).toMatchObject({ id: subject.id, email: subject.email, name: subject.name });
  if (kind === 'card') expect(outcome.body).toMatchObject({ number: CARD.number });
}

/** A refused reveal: 503 audit_unavailable, and not one personal value in the answer. */
function expectFailedClosed(outcome: Outcome): void {
  expect(describeOutcome(outcome)).toBe('503 audit_unavailable');
  if (!answered(outcome)) return;
  for (const secret of [...subjects.flatMap((s) => [s.email, s.name]), CARD.number, CARD.holder_name, SAMPLE.phone, SAMPLE.postal_address.line1]) {
    expect(outcome.text).not.toContain(secret);
  }
}

const REFUSALS: Array<[string, () => Promise<unknown>, () => Promise<unknown>]> = [
  [
    'INSERT on audit_events revoked from the vault\'s role',
    () => vault.vault.db.raw(`revoke insert on audit_events from ${role}`),
    () => vault.vault.db.raw(`grant insert on audit_events to ${role}`),
  ],
  [
    'a trigger that raises on every insert into audit_events',
    async () => {
      await vault.vault.db.raw("create or replace function pdvault_fault_refuse_audit() returns trigger language plpgsql as $$ begin raise exception 'audit refused by the fault suite'; end $$");
      await vault.vault.db.raw('create trigger pdvault_fault_refuse_audit before insert on audit_events for each row execute function pdvault_fault_refuse_audit()');
    },
    () => vault.vault.db.raw('drop trigger pdvault_fault_refuse_audit on audit_events'),
  ],
];

describe.each(REFUSALS)('the audit table refusing inserts (%s) while reveals run', (_how, refuse, restore) => {
  it('fails every reveal closed with 503 audit_unavailable, commits no event, and reveals again once inserts are allowed, without a restart', async () => {
    /**
     * 0: inserts allowed; 1: refused (committed); 2: restoring; 3: restored (committed).
     * A reveal is judged by the state it started and ended in, never by timing.
     */
    let state = 0;
    let running = true;
    const reveals: Array<{ kind: RevealKind; n: number; from: number; to: number; outcome: Outcome }> = [];
    const seen = (from: number, to: number, since = 0) => reveals.slice(since).filter((r) => r.from === from && r.to === to);
    const eachKindSeen = (from: number, to: number, since = 0) => (KINDS.every((kind) => seen(from, to, since).filter((r) => r.kind === kind).length >= 2) ? true : undefined);

    const traffic = (async () => {
      for (let n = 0; n < MAX_REVEALS && running; n++) {
        const from = state;
        const outcomes = await Promise.all(KINDS.map((kind) => reveal(kind, n)));
        KINDS.forEach((kind, i) => reveals.push({ kind, n, from, to: state, outcome: outcomes[i]! }));
      }
    })();
    const auditRows = async () => Number((await vault.vault.db('audit_events').count({ n: '*' }))[0]!.n);
    const rowsWhileRevoked: number[] = [];
    try {
      await pollUntil('reveals before the revocation', async () => eachKindSeen(0, 0), { attempts: 200, intervalMs: 50 });
      await refuse();
      state = 1;
      // A group whose insert ran just before the refusal may still commit after it. The writer
      // commits one group at a time, so once a reveal begun after the refusal has been refused,
      // every earlier group has finished: count from there.
      await pollUntil('a reveal refused since inserts were', async () => (seen(1, 1).length > 0 ? true : undefined), { attempts: 200, intervalMs: 50 });
      rowsWhileRevoked.push(await auditRows());
      const counted = reveals.length;
      await pollUntil('reveals while inserts are refused', async () => eachKindSeen(1, 1, counted), { attempts: 200, intervalMs: 50 });
      rowsWhileRevoked.push(await auditRows());
      state = 2;
      await restore();
      state = 3;
      await pollUntil('reveals after the right is given back', async () => eachKindSeen(3, 3), { attempts: 200, intervalMs: 50 });
    } finally {
      running = false;
      await traffic;
    }

    for (const { kind, n, outcome } of seen(0, 0)) expectRevealed(kind, n, outcome);
    for (const { outcome } of seen(1, 1)) expectFailedClosed(outcome);
    for (const { kind, n, outcome } of seen(3, 3)) expectRevealed(kind, n, outcome);
    // Across the changes of state a reveal may go either way, but only these two ways.
    for (const { kind, n, outcome } of reveals.filter((r) => r.from !== r.to)) {
      if (describeOutcome(outcome) === '200') expectRevealed(kind, n, outcome);
      else expectFailedClosed(outcome);
    }
    // Nothing reached the trail while it refused inserts: no event half-written, none skipped in the chain.
    expect(rowsWhileRevoked).toHaveLength(2);
    expect(rowsWhileRevoked[1]).toBe(rowsWhileRevoked[0]);
    const verify = await vault.get('/v1/admin/audit/verify').set('Authorization', auth(await callerWith(vault, { scopes: ['audit:read'] }, 'audit:read'))).expect(200);
    expect(verify.body).toMatchObject({ ok: true, first_broken_seq: null });
  });
});
