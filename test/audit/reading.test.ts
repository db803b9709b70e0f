import { startTestVault, type TestVault } from '../support/test-vault';
import { adminCaller, bearer, contextFor, dataCaller, newSubjectId, type Caller } from '../policy/support/principals';
import { registerClient, requestToken } from '../identity/support/identity-helpers';

let vault: TestVault;
let auditor: Caller;
let shipping: Caller;
let mailer: Caller;
const subject = newSubjectId();
beforeAll(async () => {
  vault = await startTestVault();
  auditor = await adminCaller(vault, ['audit:read']);
  shipping = await dataCaller(vault, 'subjects:read', 'shipping', 'contractor');
  mailer = await dataCaller(vault, 'emails:resolve', 'newsletter');
  const decide = vault.vault.policy.decisions;
  await decide.decide(shipping.principal, 'subjects.read', { id: subject }, ['name', 'postal_address', 'email'], contextFor('ship'));
  await decide.decide(mailer.principal, 'emails.resolve', { id: subject, preferences: { newsletter: false } }, ['email'], contextFor('mail'));
  await decide.decide(mailer.principal, 'emails.resolve', { id: subject, preferences: { newsletter: true } }, ['email'], contextFor('mail'));
  await decide.decide(shipping.principal, 'subjects.read', { id: newSubjectId() }, ['name'], contextFor('other'));
});
afterAll(() => vault.stop());

describe('GET /v1/admin/audit', () => {
  it('filters by subject, client, purpose and outcome', async () => {
    const bySubject = await vault.get(`/v1/admin/audit?subject_id=${subject}`).set(bearer(auditor)).expect(200);
    expect(bySubject.body.events.filter((e: { action: string }) => !e.action.startsWith('audit.')).map((e: { action: string; outcome: string }) => [e.action, e.outcome])).toEqual([
      ['emails.resolve', 'allowed'],
      ['emails.resolve', 'denied'],
      ['subjects.read', 'allowed'],
    ]);
    const denied = await vault.get(`/v1/admin/audit?client_id=${mailer.principal.clientId}&purpose=newsletter&outcome=denied`).set(bearer(auditor)).expect(200);
    expect(denied.body.events).toHaveLength(1);
    expect(denied.body.events[0]).toMatchObject({ reason: 'subject_opted_out', subject_id: subject, fields: { email: 'plain' }, policy_version: 1 });
  });

  it('filters by time', async () => {
    const future = new Date(Date.now() + 3600_000).toISOString();
    expect((await vault.get(`/v1/admin/audit?since=${encodeURIComponent(future)}`).set(bearer(auditor)).expect(200)).body.events).toEqual([]);
    // RFC 3339 takes a lower-case t and z too.
    expect((await vault.get(`/v1/admin/audit?since=${encodeURIComponent(future.toLowerCase())}`).set(bearer(auditor)).expect(200)).body.events).toEqual([]);
    const all = await vault.get(`/v1/admin/audit?until=${encodeURIComponent(future)}&subject_id=${subject}`).set(bearer(auditor)).expect(200);
    // The earlier reads filtered by this subject are events about it too.
    expect(all.body.events.filter((e: { action: string }) => !e.action.startsWith('audit.'))).toHaveLength(3);
  });

  it('pages through events newest first with an opaque cursor', async () => {
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `/v1/admin/audit?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const res = await vault.get(query).set(bearer(auditor)).expect(200);
      seen.push(...res.body.events.map((e: { seq: number }) => e.seq));
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...seen].sort((a, b) => b - a));
    expect(new Set(seen).size).toBe(seen.length);
    expect(Math.min(...seen)).toBe(1);
  });

  it('refuses a cursor it did not issue and an unknown parameter', async () => {
    expect((await vault.get('/v1/admin/audit?cursor=bm9wZQ').set(bearer(auditor)).expect(400)).body.code).toBe('invalid_cursor');
    expect((await vault.get('/v1/admin/audit?colour=red').set(bearer(auditor)).expect(400)).body.code).toBe('invalid_query');
  });

  it('reads a limit only as digits and a cursor only as the vault wrote it', async () => {
    const issued = (await vault.get('/v1/admin/audit?limit=1').set(bearer(auditor)).expect(200)).body.next_cursor as string;
    for (const limit of ['0x10', '1e2', '%201', '0', '1001', '2.5', '-1']) {
      expect([limit, (await vault.get(`/v1/admin/audit?limit=${limit}`).set(bearer(auditor))).body.code]).toEqual([limit, 'invalid_query']);
    }
    expect((await vault.get(`/v1/admin/audit?cursor=${issued}!!!`).set(bearer(auditor)).expect(400)).body.code).toBe('invalid_cursor');
    for (const written of ['seq:0', 'seq:01', `seq:0${Buffer.from(issued, 'base64url').toString().slice(4)}`]) {
      const cursor = Buffer.from(written).toString('base64url');
      expect([written, (await vault.get(`/v1/admin/audit?cursor=${cursor}`).set(bearer(auditor))).body.code]).toEqual([written, 'invalid_cursor']);
    }
    expect((await vault.get(`/v1/subjects/${subject}/access-log?limit=1e2`).set(bearer(auditor)).expect(400)).body.code).toBe('invalid_query');
    await vault.get(`/v1/admin/audit?limit=1000&cursor=${issued}`).set(bearer(auditor)).expect(200);
  });

  it('refuses a parameter given twice, naming it, on the trail and on an access log', async () => {
    for (const path of ['/v1/admin/audit?limit=1&limit=2', `/v1/subjects/${subject}/access-log?limit=1&limit=2`]) {
      const res = await vault.get(path).set(bearer(auditor)).expect(400);
      expect([res.body.code, res.body.errors]).toEqual(['invalid_query', [{ pointer: '/limit', detail: 'must be given once, as plain text' }]]);
    }
  });

  it('audits the read itself', async () => {
    const read = await vault.get(`/v1/admin/audit?subject_id=${subject}`).set(bearer(auditor)).expect(200);
    const [event] = await vault.vault.db('audit_events').where({ request_id: read.headers['x-request-id'] });
    expect(event).toMatchObject({ action: 'audit.query', outcome: 'allowed', client_id: auditor.principal.clientId, subject_id: subject });
  });

  it('refuses a token without audit:read, and audits the refusal', async () => {
    const policyAdmin = await adminCaller(vault, ['admin:policy']);
    const refused = await vault.get('/v1/admin/audit').set(bearer(policyAdmin)).expect(403);
    const [event] = await vault.vault.db('audit_events').where({ request_id: refused.headers['x-request-id'] });
    expect(event).toMatchObject({ outcome: 'denied', reason: 'insufficient_scope' });
  });

  it('holds token issuance and token-endpoint failures', async () => {
    const client = await registerClient(vault, { scopes: ['subjects:read'], purposes: ['shipping'] });
    await requestToken(vault, client, { grant_type: 'client_credentials', scope: 'subjects:read', purpose: 'shipping' }).expect(200);
    await requestToken(vault, { ...client, clientSecret: 'wrong' }, { grant_type: 'client_credentials', scope: 'subjects:read', purpose: 'shipping' }).expect(401);
    const res = await vault.get(`/v1/admin/audit?client_id=${client.clientId}&action=token.issue`).set(bearer(auditor)).expect(200);
    expect(res.body.events.map((e: { outcome: string; reason: string | null }) => [e.outcome, e.reason])).toEqual([
      ['denied', 'invalid_client'],
      ['allowed', null],
    ]);
    expect(res.body.events[1].target).toMatch(/^at_/);
  });
});

describe('GET /v1/subjects/{id}/access-log', () => {
  it('tells who accessed the subject, for which purpose, when, and with what result', async () => {
    const res = await vault.get(`/v1/subjects/${subject}/access-log`).set(bearer(auditor)).expect(200);
    expect(res.body.subject_id).toBe(subject);
    expect(res.body.entries.map((e: { client_id: string; purpose: string; outcome: string; reason: string | null }) => [e.client_id, e.purpose, e.outcome, e.reason])).toEqual([
      [mailer.principal.clientId, 'newsletter', 'allowed', null],
      [mailer.principal.clientId, 'newsletter', 'denied', 'subject_opted_out'],
      [shipping.principal.clientId, 'shipping', 'allowed', null],
    ]);
    expect(res.body.entries[2].fields).toEqual({ name: 'plain', postal_address: 'plain', email: 'absent' });
  });

  it('leaves out reads of the trail itself, and audits its own read', async () => {
    const first = await vault.get(`/v1/subjects/${subject}/access-log`).set(bearer(auditor)).expect(200);
    const res = await vault.get(`/v1/subjects/${subject}/access-log`).set(bearer(auditor)).expect(200);
    expect(res.body.entries.every((e: { action: string }) => !e.action.startsWith('audit.'))).toBe(true);
    const [event] = await vault.vault.db('audit_events').where({ request_id: first.headers['x-request-id'] });
    expect(event).toMatchObject({ action: 'audit.access_log', subject_id: subject });
  });

  it('leaves out the break-glass approval workflow, which would announce a disclosure before it is made', async () => {
    const admin = await adminCaller(vault, ['admin:policy']);
    const approvalEvent = { outcome: 'allowed' as const, clientId: admin.principal.clientId, scopes: ['admin:policy'], subjectId: subject, requestId: contextFor('approval').requestId };
    await vault.vault.audit.writer.append([{ ...approvalEvent, action: 'approval.create' }, { ...approvalEvent, action: 'approval.approve' }]);

    const res = await vault.get(`/v1/subjects/${subject}/access-log`).set(bearer(auditor)).expect(200);

    expect(res.body.entries.map((e: { action: string }) => e.action)).toEqual(['emails.resolve', 'emails.resolve', 'subjects.read']);
    expect(JSON.stringify(res.body)).not.toContain(admin.principal.clientId);
    // The trail keeps them, for the auditors.
    const all = await vault.get(`/v1/admin/audit?subject_id=${subject}&action=approval.create`).set(bearer(auditor)).expect(200);
    expect(all.body.events).toHaveLength(1);
  });

  it('leaves out refused legal-disclosure reads, which announce a disclosure that has not happened', async () => {
    const legal = await dataCaller(vault, 'subjects:read', 'legal_disclosure');
    const attempt = await vault.vault.policy.decisions.decide(legal.principal, 'subjects.read', { id: subject }, ['name'], contextFor('legal'));
    expect(attempt).toMatchObject({ allowed: false, reason: 'approval_required' });

    const res = await vault.get(`/v1/subjects/${subject}/access-log`).set(bearer(auditor)).expect(200);

    expect(res.body.entries.map((e: { action: string }) => e.action)).toEqual(['emails.resolve', 'emails.resolve', 'subjects.read']);
    expect(JSON.stringify(res.body)).not.toContain(legal.principal.clientId);
    // Other refusals still show (the opted-out newsletter above), and the trail keeps this one.
    const all = await vault.get(`/v1/admin/audit?subject_id=${subject}&purpose=legal_disclosure`).set(bearer(auditor)).expect(200);
    expect(all.body.events).toEqual([expect.objectContaining({ outcome: 'denied', reason: 'approval_required' })]);
  });

  it('refuses what is not a subject id', async () => {
    expect((await vault.get('/v1/subjects/jane@example.com/access-log').set(bearer(auditor)).expect(400)).body.code).toBe('invalid_subject_id');
  });
});
