import { spec } from '../support/openapi';
import { startTestVault, type TestVault } from '../support/test-vault';
import { accountService, auth, createSubject, mailer, SAMPLE, type Caller } from './support/data-callers';

let vault: TestVault;
let account: Caller;
beforeAll(async () => {
  vault = await startTestVault();
  account = await accountService(vault);
});
afterAll(() => vault.stop());

const setPreferences = (id: string, body: Record<string, boolean>) =>
  vault.put(`/v1/subjects/${id}/preferences`).set('Authorization', auth(account)).send(body).expect(200);

describe('email resolution for the mailer', () => {
  it('refuses a newsletter address for a subject who unsubscribed, and gives it after they resubscribe', async () => {
    const { id } = await createSubject(vault, account, { email: 'news@example.com' });
    const newsletter = await mailer(vault, 'newsletter');
    await vault.get(`/v1/subjects/${id}/email`).set('Authorization', auth(newsletter)).expect(200, { subject_id: id, email: 'news@example.com' });

    await setPreferences(id, { newsletter: false });
    const refused = await vault.get(`/v1/subjects/${id}/email`).set('Authorization', auth(newsletter)).expect(403);
    expect(refused.body.code).toBe('subject_opted_out');
    expect(refused.text).not.toContain('news@example.com');

    await setPreferences(id, { newsletter: true });
    await vault.get(`/v1/subjects/${id}/email`).set('Authorization', auth(newsletter)).expect(200);
  });

  it('always gives a transactional_email token the address, whatever the subject unsubscribed from', async () => {
    const { id } = await createSubject(vault, account, { email: 'tx@example.com', preferences: { newsletter: false, promotions: false, surveys: false, partner_offers: false } });
    const transactional = await mailer(vault, 'transactional_email');
    await vault.get(`/v1/subjects/${id}/email`).set('Authorization', auth(transactional)).expect(200, { subject_id: id, email: 'tx@example.com' });
  });

  it('records every resolution, allowed or refused, in the audit trail with its reason and no address', async () => {
    const { id } = await createSubject(vault, account, { email: 'audited@example.com', preferences: { promotions: false } });
    const promotions = await mailer(vault, 'promotions');
    const res = await vault.get(`/v1/subjects/${id}/email`).set('Authorization', auth(promotions)).expect(403);
    const rows = await vault.vault.db('audit_events').where({ request_id: res.headers['x-request-id'] });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ action: 'emails.resolve', outcome: 'denied', reason: 'subject_opted_out', subject_id: id, purpose: 'promotions' });
    expect(JSON.stringify(rows)).not.toContain('audited@example.com');
  });

  it('answers 404 email_not_on_file for a subject without an address', async () => {
    const { id } = await createSubject(vault, account, { name: 'No Address' });
    const res = await vault.get(`/v1/subjects/${id}/email`).set('Authorization', auth(await mailer(vault, 'transactional_email'))).expect(404);
    expect(res.body.code).toBe('email_not_on_file');
  });

  it('refuses to switch off transactional messages', async () => {
    const { id } = await createSubject(vault, account, { email: 'keep@example.com' });
    const res = await vault.put(`/v1/subjects/${id}/preferences`).set('Authorization', auth(account)).send({ transactional: false }).expect(422);
    expect(res.body.code).toBe('transactional_cannot_be_disabled');
    // The same answer wherever preferences are set, and nothing is stored.
    const created = await vault.post('/v1/subjects').set('Authorization', auth(account)).send({ email: 'keep2@example.com', preferences: { transactional: false } });
    expect([created.status, created.body.code, created.body.errors?.[0]?.pointer]).toEqual([422, 'transactional_cannot_be_disabled', '/preferences/transactional']);
    const etag = (await vault.get(`/v1/subjects/${id}`).set('Authorization', auth(account)).expect(200)).headers.etag;
    const patched = await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('If-Match', etag).send({ preferences: { transactional: false } });
    expect([patched.status, patched.body.code]).toEqual([422, 'transactional_cannot_be_disabled']);
    expect((await vault.vault.db('subjects').where({ id }).first()).version).toBe(1);
  });

  it('keeps every preference change with its time in the consent history', async () => {
    const { id } = await createSubject(vault, account, { email: 'history@example.com' });
    await setPreferences(id, { surveys: false });
    await setPreferences(id, { surveys: true, share_with_partners: true });
    const rows = await vault.vault.db('consent_history').where({ subject_id: id }).orderBy('id');
    expect(rows.map((r) => [r.preference, r.value])).toEqual([['surveys', false], ['surveys', true], ['share_with_partners', true]]);
    expect(rows.every((r) => r.changed_at instanceof Date && r.changed_by === account.credentials.clientId)).toBe(true);
  });

  it('keeps the history in time order when writers queue on one subject', async () => {
    const { id } = await createSubject(vault, account, { email: 'queued@example.com' });
    await Promise.all(Array.from({ length: 12 }, (_, i) => setPreferences(id, { newsletter: i % 2 === 0 })));
    const rows = await vault.vault.db('consent_history').where({ subject_id: id }).orderBy('id');
    const times = rows.map((r) => r.changed_at.getTime());
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it('changes nothing for choices already stored: same version and ETag, no history', async () => {
    const { id, etag } = await createSubject(vault, account, { email: 'unchanged@example.com', preferences: { newsletter: false } });
    const res = await vault.put(`/v1/subjects/${id}/preferences`).set('Authorization', auth(account)).send({ newsletter: false }).expect(200);
    expect(res.body.preferences.newsletter).toBe(false);
    expect((await vault.vault.db('subjects').where({ id }).first()).version).toBe(1);
    expect(await vault.vault.db('consent_history').where({ subject_id: id })).toHaveLength(1);
    await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('If-Match', etag).send({ name: 'Still Current' }).expect(200);
  });

  it('reads the choices in force, defaults included, for the caller that keeps them, audited as a read', async () => {
    const { id } = await createSubject(vault, account, { email: 'reads@example.com', preferences: { newsletter: false } });
    await setPreferences(id, { share_with_partners: true });
    const res = await vault.get(`/v1/subjects/${id}/preferences`).set('Authorization', auth(account)).expect(200);
    expect(res.body).toEqual({ subject_id: id, preferences: { newsletter: false, promotions: true, surveys: true, partner_offers: true, share_with_partners: true } });
    const [event] = await vault.vault.db('audit_events').where({ request_id: res.headers['x-request-id'] });
    expect(event).toMatchObject({ action: 'preferences.read', outcome: 'allowed', subject_id: id });

    await vault.get('/v1/subjects/sub_AAAAAAAAAAAAAAAAAAAAAA/preferences').set('Authorization', auth(account)).expect(404);
    const mailerToken = await mailer(vault, 'transactional_email');
    expect((await vault.get(`/v1/subjects/${id}/preferences`).set('Authorization', auth(mailerToken)).expect(403)).body.code).toBe('insufficient_scope');
  });
});

describe('batch resolution', () => {
  it('answers each id on its own, audits every item in one commit, and never fails the batch for one subject', async () => {
    const ok = await createSubject(vault, account, { email: 'one@example.com' });
    const out = await createSubject(vault, account, { email: 'two@example.com', preferences: { newsletter: false } });
    const none = await createSubject(vault, account, { name: 'No Email' });
    const ghost = 'sub_AAAAAAAAAAAAAAAAAAAAAA';
    const newsletter = await mailer(vault, 'newsletter');
    const res = await vault
      .post('/v1/emails/resolve')
      .set('Authorization', auth(newsletter))
      .send({ subject_ids: [ok.id, out.id, none.id, ghost, 'garbage'] })
      .expect(200);
    expect(res.body.results).toEqual([
      { subject_id: ok.id, email: 'one@example.com' },
      { subject_id: out.id, error: 'subject_opted_out' },
      { subject_id: none.id, error: 'email_not_on_file' },
      { subject_id: ghost, error: 'not_found' },
      { subject_id: 'garbage', error: 'not_found' },
    ]);
    const rows = await vault.vault.db('audit_events').where({ request_id: res.headers['x-request-id'] }).orderBy('seq');
    // Ids that name no subject are recorded as lookups that found nothing: nothing disclosed, the well-formed id kept, the garbage not.
    expect(rows.map((r) => [r.subject_id, r.outcome, r.reason, r.fields])).toEqual([
      [ok.id, 'allowed', null, { email: 'plain' }],
      [out.id, 'denied', 'subject_opted_out', expect.anything()],
      [none.id, 'allowed', null, { email: 'plain' }],
      [ghost, 'allowed', 'not_found', {}],
      [null, 'allowed', 'not_found', {}],
      // The address it was allowed had none to give: that disclosure did not happen.
      [none.id, 'denied', 'not_done:email_not_on_file', { email: 'plain' }],
    ]);
    expect(rows.slice(0, 5).map((r) => Number(r.seq))).toEqual([0, 1, 2, 3, 4].map((n) => Number(rows[0].seq) + n));
  });

  it('answers a purpose without its approval the same for an id that names a subject and one that does not', async () => {
    const existing = await createSubject(vault, account, { email: 'exists@example.com' });
    const legal = await mailer(vault, 'legal_disclosure');
    const res = await vault.post('/v1/emails/resolve').set('Authorization', auth(legal)).send({ subject_ids: [existing.id, 'sub_AAAAAAAAAAAAAAAAAAAAAB'] }).expect(200);
    expect(res.body.results).toEqual([
      { subject_id: existing.id, error: 'approval_required' },
      { subject_id: 'sub_AAAAAAAAAAAAAAAAAAAAAB', error: 'approval_required' },
    ]);
  });

  it('resolves 1,000 ids in one request', async () => {
    const ids = [];
    for (let i = 0; i < 20; i++) ids.push((await createSubject(vault, account, { email: `bulk${i}@example.com` })).id);
    const padded = [...ids, ...Array.from({ length: 980 }, (_, i) => `sub_${String(i).padStart(22, 'Z')}`)];
    const res = await vault.post('/v1/emails/resolve').set('Authorization', auth(await mailer(vault, 'transactional_email'))).send({ subject_ids: padded }).expect(200);
    expect(res.body.results).toHaveLength(1000);
    expect(res.body.results.filter((r: { email?: string }) => r.email)).toHaveLength(20);
  });

  it('fits 1,000 ids of the longest length the contract allows within the default body limit', async () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the contract as parsed YAML
    const batch = (spec as any).paths['/v1/emails/resolve'].post.requestBody.content['application/json'].schema.properties.subject_ids;
    const longest = Array.from({ length: batch.maxItems }, (_, i) => `sub_${String(i).padStart(batch.items.maxLength - 4, 'Z')}`);
    const res = await vault.post('/v1/emails/resolve').set('Authorization', auth(await mailer(vault, 'transactional_email'))).send({ subject_ids: longest }).expect(200);
    expect(res.body.results.every((r: { error?: string }) => r.error === 'not_found')).toBe(true);
  });

  it.each([
    ['an id longer than any subject id', { subject_ids: [`sub_${'Z'.repeat(29)}`] }],
    ['more than 1,000 ids', { subject_ids: Array.from({ length: 1001 }, (_, i) => `sub_${i}`) }],
    ['no ids', { subject_ids: [] }],
    ['a repeated id', { subject_ids: ['sub_a', 'sub_a'] }],
    ['numbers instead of ids', { subject_ids: [1, 2] }],
    ['an unknown property', { subject_ids: ['sub_a'], purpose: 'x' }],
  ])('refuses a batch with %s', async (_label, body) => {
    const res = await vault.post('/v1/emails/resolve').set('Authorization', auth(await mailer(vault, 'transactional_email'))).send(body).expect(422);
    expect(res.body.code).toBe('validation_failed');
  });

  it('names each repeated id by its index and the index it repeats', async () => {
    const res = await vault.post('/v1/emails/resolve').set('Authorization', auth(await mailer(vault, 'transactional_email'))).send({ subject_ids: ['sub_a', 'sub_b', 'sub_a'] }).expect(422);
    expect(res.body.errors).toEqual([{ pointer: '/subject_ids/2', detail: 'repeats the id at /subject_ids/0' }]);
  });

  it('refuses the whole batch for a purpose the mailer was not granted', async () => {
    const { id } = await createSubject(vault, account, SAMPLE);
    const wrong = await mailer(vault, 'newsletter');
    // Through this instance, which forgets the client's cached standing at once (a change made in
    // SQL outside the vault is heard later, from the change feed, and the next request could beat it).
    await vault.vault.identity.clients.changeGrants(wrong.credentials.clientId, { purposes: ['transactional_email'] }, { via: 'cli' });
    const res = await vault.post('/v1/emails/resolve').set('Authorization', auth(wrong)).send({ subject_ids: [id] }).expect(403);
    expect(res.body.code).toBe('purpose_not_granted');
    expect(res.body.detail).toMatch(/^The client is not granted the purpose newsletter, or the policy in force \(version \d+\) gives that purpose no rule; an administrator grants purposes/);
  });
});
