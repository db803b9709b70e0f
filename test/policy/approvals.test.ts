import { startTestVault, type TestVault } from '../support/test-vault';
import { accountService, createSubject } from '../vault/support/data-callers';
import { accessToken } from '../identity/support/identity-helpers';
import { adminCaller, bearer, callerWith, contextFor, dataCaller, newSubjectId, registeredThrough, type Caller } from './support/principals';

let vault: TestVault;
let first: Caller;
let second: Caller;
let disclosure: Caller;
let account: Caller;
beforeAll(async () => {
  vault = await startTestVault();
  first = await adminCaller(vault, ['admin:policy']);
  second = await adminCaller(vault, ['admin:policy']);
  disclosure = await dataCaller(vault, 'subjects:read', 'legal_disclosure');
  account = await accountService(vault);
});
afterAll(() => vault.stop());

/** A subject that exists: approvals are only given for one. */
const aSubject = async () => (await createSubject(vault, account)).id;
const inHours = (hours: number) => new Date(Date.now() + hours * 3600_000).toISOString();
const disclose = (subjectId: string) =>
  vault.vault.policy.decisions.decide(disclosure.principal, 'subjects.read', { id: subjectId }, ['email', 'name', 'postal_address'], contextFor('disclose'));

async function requestApproval(subjectId: string, by = first, forClient = disclosure) {
  const res = await vault
    .post('/v1/admin/approvals')
    .set(bearer(by))
    .send({ subject_id: subjectId, client_id: forClient.principal.clientId, justification: 'Court order 2026-117, district court', expires_at: inHours(24) })
    .expect(201);
  return res.body.approval_id as string;
}

describe('break-glass legal disclosure', () => {
  it('is refused without an approval', async () => {
    expect(await disclose(newSubjectId())).toMatchObject({ allowed: false, reason: 'approval_required' });
  });

  it('works once, after a second admin client approved it, for the subject it names', async () => {
    const subject = await aSubject();
    const approvalId = await requestApproval(subject);
    expect(await disclose(subject)).toMatchObject({ allowed: false, reason: 'approval_required' });

    const self = await vault.post(`/v1/admin/approvals/${approvalId}/approve`).set(bearer(first)).expect(403);
    expect(self.body.code).toBe('second_approver_required');
    const approved = await vault.post(`/v1/admin/approvals/${approvalId}/approve`).set(bearer(second)).expect(200);
    expect(approved.body).toMatchObject({ state: 'approved', created_by: first.principal.clientId, approved_by: second.principal.clientId });

    expect(await disclose(newSubjectId())).toMatchObject({ allowed: false, reason: 'approval_required' });
    const allowed = await disclose(subject);
    expect(allowed).toMatchObject({ allowed: true, approvalId, fields: { email: 'plain', name: 'plain', postal_address: 'plain' } });
    expect(await disclose(subject)).toMatchObject({ allowed: false, reason: 'approval_required' });
    expect((await vault.get(`/v1/admin/approvals/${approvalId}`).set(bearer(first)).expect(200)).body.state).toBe('used');
  });

  it('audits every step without the justification', async () => {
    const subject = await aSubject();
    const approvalId = await requestApproval(subject);
    await vault.post(`/v1/admin/approvals/${approvalId}/approve`).set(bearer(first)).expect(403);
    await vault.post(`/v1/admin/approvals/${approvalId}/approve`).set(bearer(second)).expect(200);
    await disclose(subject);
    const events = await vault.vault.db('audit_events').where({ subject_id: subject }).whereNot({ action: 'subjects.create' }).orderBy('seq');
    expect(events.map((e) => [e.action, e.outcome, e.reason])).toEqual([
      ['approval.create', 'allowed', null],
      ['approval.approve', 'denied', 'second_approver_required'],
      ['approval.approve', 'allowed', null],
      ['subjects.read', 'allowed', null],
    ]);
    expect(events.every((e) => e.action === 'approval.create' || e.target === approvalId)).toBe(true);
    expect(JSON.stringify(events)).not.toContain('Court order');
  });

  it('refuses to approve an expired approval', async () => {
    const approvalId = await requestApproval(await aSubject());
    await vault.vault.db('approvals').where({ id: approvalId }).update({ expires_at: new Date(Date.now() - 1000) });
    expect((await vault.post(`/v1/admin/approvals/${approvalId}/approve`).set(bearer(second)).expect(409)).body.code).toBe('approval_expired');
  });

  it('refuses to approve an approval whose subject was erased since, and records the refusal', async () => {
    const subjectId = await aSubject();
    const approvalId = await requestApproval(subjectId);
    await vault.delete(`/v1/subjects/${subjectId}`).set('Authorization', `Bearer ${account.token}`).expect(204);
    const res = await vault.post(`/v1/admin/approvals/${approvalId}/approve`).set(bearer(second)).expect(409);
    expect(res.body.code).toBe('approval_subject_erased');
    expect((await vault.get(`/v1/admin/approvals/${approvalId}`).set(bearer(first)).expect(200)).body.state).toBe('pending');
    const events = await vault.vault.db('audit_events').where({ target: approvalId, action: 'approval.approve' }).select('outcome', 'reason');
    expect(events).toEqual([{ outcome: 'denied', reason: 'approval_subject_erased' }]);
  });

  it('does not disclose with an approval that expired after it was approved', async () => {
    const subject = await aSubject();
    const approvalId = await requestApproval(subject);
    await vault.post(`/v1/admin/approvals/${approvalId}/approve`).set(bearer(second)).expect(200);
    await vault.vault.db('approvals').where({ id: approvalId }).update({ expires_at: new Date(Date.now() - 1000) });
    expect(await disclose(subject)).toMatchObject({ allowed: false, reason: 'approval_required' });
  });

  it('refuses an approval without a justification, for a client without the purpose, or too far ahead', async () => {
    const shipping = await dataCaller(vault, 'subjects:read', 'shipping');
    const res = await vault
      .post('/v1/admin/approvals')
      .set(bearer(first))
      .send({ subject_id: await aSubject(), client_id: shipping.principal.clientId, justification: 'because', expires_at: inHours(24 * 365) })
      .expect(400);
    expect(res.body.code).toBe('invalid_approval');
    expect(res.body.errors.map((e: { pointer: string }) => e.pointer).sort()).toEqual(['/client_id', '/expires_at', '/justification']);
  });

  it('refuses a justification that would read differently to the second approver, and keeps line breaks', async () => {
    const disclosure = await dataCaller(vault, 'subjects:read', 'legal_disclosure');
    const subject = await aSubject();
    const send = (justification: string) =>
      vault.post('/v1/admin/approvals').set(bearer(first)).send({ subject_id: subject, client_id: disclosure.principal.clientId, justification, expires_at: inHours(24) });
    for (const hostile of ['\u202Ecourt order 1234', 'court\u200B order 1234', 'court order\u0007 1234']) {
      const res = await send(hostile);
      expect([res.status, res.body.errors?.[0]?.pointer]).toEqual([400, '/justification']);
    }
    await send('Court order 2026-118\nDistrict court, case 4').expect(201);
  });

  it('refuses a justification holding a card number, which would be kept in clear past the erasure, and stores nothing', async () => {
    const disclosure = await dataCaller(vault, 'subjects:read', 'legal_disclosure');
    const subject = await aSubject();
    const before = await vault.vault.db('approvals').count<{ count: string }[]>('* as count');
    const res = await vault
      .post('/v1/admin/approvals')
      .set(bearer(first))
      .send({ subject_id: subject, client_id: disclosure.principal.clientId, justification: 'Court order 2026-123 for card 4242 4242 4242 4242', expires_at: inHours(24) });
    expect([res.status, res.body.errors]).toEqual([400, [{ pointer: '/justification', detail: 'justification must not hold a card number (name the case, not the card)' }]]);
    expect(JSON.stringify(res.body)).not.toContain('4242');
    // Line breaks are blanks to the reader: a card written over four lines is still one.
    const overLines = await vault
      .post('/v1/admin/approvals')
      .set(bearer(first))
      .send({ subject_id: subject, client_id: disclosure.principal.clientId, justification: 'Court order 2026-123, card:\n4242\r\n4242\n4242\t4242', expires_at: inHours(24) });
    expect([overLines.status, overLines.body.errors?.[0]?.detail]).toEqual([400, 'justification must not hold a card number (name the case, not the card)']);
    expect(await vault.vault.db('approvals').count<{ count: string }[]>('* as count')).toEqual(before);
  });

  it('refuses an approval for a subject that does not exist, and stores nothing', async () => {
    const nobody = newSubjectId();
    const res = await vault
      .post('/v1/admin/approvals')
      .set(bearer(first))
      .send({ subject_id: nobody, client_id: disclosure.principal.clientId, justification: 'Court order 2026-118, district court', expires_at: inHours(24) })
      .expect(400);
    expect(res.body).toMatchObject({ code: 'invalid_approval', errors: [{ pointer: '/subject_id', detail: 'No such subject' }] });
    expect(await vault.vault.db('approvals').where({ subject_id: nobody })).toEqual([]);
  });

  it('is not used up by anything but a disclosure: a search for the subject is refused and the approval stays', async () => {
    const searcher = await callerWith(vault, { scopes: ['subjects:read', 'subjects:search'], purposes: ['legal_disclosure'] }, 'subjects:search', 'legal_disclosure');
    const { id } = await createSubject(vault, account, { email: 'searched.under.approval@example.com' });
    const approvalId = await requestApproval(id, first, searcher);
    await vault.post(`/v1/admin/approvals/${approvalId}/approve`).set(bearer(second)).expect(200);

    const res = await vault.post('/v1/subjects/search').set(bearer(searcher)).send({ email: 'searched.under.approval@example.com' });

    expect([res.status, res.body.code]).toEqual([403, 'approval_required']);
    expect((await vault.get(`/v1/admin/approvals/${approvalId}`).set(bearer(first)).expect(200)).body.state).toBe('approved');
  });

  it('is given back when the disclosure it allowed did not happen (no address on file), and names itself in the not_done event', async () => {
    const mailer = await callerWith(vault, { scopes: ['subjects:read', 'emails:resolve'], purposes: ['legal_disclosure'] }, 'emails:resolve subjects:read', 'legal_disclosure');
    const { id } = await createSubject(vault, account, { email: undefined, name: 'No Address' });
    const approvalId = await requestApproval(id, first, mailer);
    await vault.post(`/v1/admin/approvals/${approvalId}/approve`).set(bearer(second)).expect(200);

    const none = await vault.get(`/v1/subjects/${id}/email`).set(bearer(mailer));
    expect([none.status, none.body.code]).toEqual([404, 'email_not_on_file']);
    expect((await vault.get(`/v1/admin/approvals/${approvalId}`).set(bearer(first)).expect(200)).body.state).toBe('approved');
    const events = await vault.vault.db('audit_events').where({ request_id: none.headers['x-request-id'] }).orderBy('seq').select('outcome', 'reason', 'target');
    expect(events).toEqual([
      { outcome: 'allowed', reason: null, target: approvalId },
      { outcome: 'denied', reason: 'not_done:email_not_on_file', target: approvalId },
    ]);

    // The disclosure the approval was for is still possible, once.
    const read = await vault.get(`/v1/subjects/${id}`).set('Authorization', `Bearer ${await accessToken(vault, mailer.credentials, { scope: 'subjects:read', purpose: 'legal_disclosure' })}`).expect(200);
    expect(read.body.name).toBe('No Address');
    expect((await vault.get(`/v1/admin/approvals/${approvalId}`).set(bearer(first)).expect(200)).body.state).toBe('used');
  });

  it('stays used up when giving it back fails, and the answer stands', async () => {
    const mailer = await callerWith(vault, { scopes: ['subjects:read', 'emails:resolve'], purposes: ['legal_disclosure'] }, 'emails:resolve subjects:read', 'legal_disclosure');
    const { id } = await createSubject(vault, account, { email: undefined, name: 'Release Fails' });
    const approvalId = await requestApproval(id, first, mailer);
    await vault.post(`/v1/admin/approvals/${approvalId}/approve`).set(bearer(second)).expect(200);
    // The database refuses to give this approval back (a fault of its own, not the request's).
    await vault.vault.db.raw(`
      create function refuse_release() returns trigger language plpgsql as $$
      begin raise exception 'release refused'; end $$;
      create trigger refuse_release before update on approvals
        for each row when (old.used_at is not null and new.used_at is null and old.id = '${approvalId}')
        execute function refuse_release();`);
    try {
      const none = await vault.get(`/v1/subjects/${id}/email`).set(bearer(mailer));

      expect([none.status, none.body.code]).toEqual([404, 'email_not_on_file']);
      expect((await vault.get(`/v1/admin/approvals/${approvalId}`).set(bearer(first)).expect(200)).body.state).toBe('used');
    } finally {
      await vault.vault.db.raw('drop trigger refuse_release on approvals; drop function refuse_release()');
    }
  });

  it('does not erase: erasure is the record owner\'s, the subject stays and the approval is not used up', async () => {
    const eraser = await callerWith(vault, { scopes: ['subjects:read', 'subjects:write'], purposes: ['legal_disclosure'] }, 'subjects:write', 'legal_disclosure');
    const { id } = await createSubject(vault, account, { email: 'kept.under.approval@example.com' });
    const approvalId = await requestApproval(id, first, eraser);
    await vault.post(`/v1/admin/approvals/${approvalId}/approve`).set(bearer(second)).expect(200);

    const res = await vault.delete(`/v1/subjects/${id}`).set(bearer(eraser));

    expect([res.status, res.body.code]).toEqual([403, 'not_record_owner']);
    expect(await vault.vault.db('subject_keys').where({ subject_id: id }).first()).toBeDefined();
    expect((await vault.get(`/v1/admin/approvals/${approvalId}`).set(bearer(first)).expect(200)).body.state).toBe('approved');
  });

  it('lists approvals newest first', async () => {
    const approvalId = await requestApproval(await aSubject());
    const res = await vault.get('/v1/admin/approvals').set(bearer(second)).expect(200);
    expect(res.body.approvals[0]).toMatchObject({ approval_id: approvalId, state: 'pending' });
  });
});

describe('the second administrator of a break-glass approval', () => {
  const approve = (approvalId: string, by: Caller) => vault.post(`/v1/admin/approvals/${approvalId}/approve`).set(bearer(by));
  const stateOf = async (approvalId: string) => (await vault.get(`/v1/admin/approvals/${approvalId}`).set(bearer(second)).expect(200)).body.state;

  it('is refused when the requester registered it through the API, directly or through a client it registered', async () => {
    const requester = await adminCaller(vault, ['admin:clients', 'admin:policy']);
    const puppet = await registeredThrough(vault, requester, ['admin:policy']);
    const delegate = await registeredThrough(vault, requester, ['admin:clients', 'admin:policy']);
    const puppetOfDelegate = await registeredThrough(vault, delegate, ['admin:policy']);
    const approvalId = await requestApproval(await aSubject(), requester);

    for (const approver of [puppet, puppetOfDelegate]) {
      const res = await approve(approvalId, approver).expect(403);
      expect(res.body.code).toBe('second_approver_required');
      expect(res.body.title).toMatch(/not independent/);
    }
    expect(await stateOf(approvalId)).toBe('pending');
    const refusals = await vault.vault.db('audit_events').where({ action: 'approval.approve', target: approvalId, outcome: 'denied' });
    expect(refusals).toHaveLength(2);
    await approve(approvalId, second).expect(200);
  });

  it('is refused when one client registered both through the API, and allowed for clients registered apart', async () => {
    const registrar = await adminCaller(vault, ['admin:clients', 'admin:policy']);
    const requester = await registeredThrough(vault, registrar, ['admin:policy']);
    const sibling = await registeredThrough(vault, registrar, ['admin:policy']);
    const approvalId = await requestApproval(await aSubject(), requester);
    expect((await approve(approvalId, sibling).expect(403)).body.code).toBe('second_approver_required');
    expect(await stateOf(approvalId)).toBe('pending');
    // Registered with the command line, as README says approvers are: independent of all three.
    await approve(approvalId, await adminCaller(vault, ['admin:policy'])).expect(200);
  });

  it('is refused the other way round: a request by a client the approver registered', async () => {
    const approver = await adminCaller(vault, ['admin:clients', 'admin:policy']);
    const requester = await registeredThrough(vault, approver, ['admin:policy']);
    const approvalId = await requestApproval(await aSubject(), requester);
    expect((await approve(approvalId, approver).expect(403)).body.code).toBe('second_approver_required');
    expect(await stateOf(approvalId)).toBe('pending');
  });

  it('is refused when the requester gave it its current secret', async () => {
    const requester = await adminCaller(vault, ['admin:clients', 'admin:policy']);
    const other = await adminCaller(vault, ['admin:policy']);
    const rotated = await vault.post(`/v1/admin/clients/${other.principal.clientId}/rotate-secret`).set(bearer(requester)).expect(200);
    const credentials = { clientId: other.principal.clientId, clientSecret: rotated.body.client_secret as string };
    const token = await accessToken(vault, credentials, { scope: 'admin:policy' });
    const approvalId = await requestApproval(await aSubject(), requester);
    expect((await vault.post(`/v1/admin/approvals/${approvalId}/approve`).set('Authorization', `Bearer ${token}`).expect(403)).body.code).toBe('second_approver_required');
  });
});
