import { startTestVault, type TestVault } from '../support/test-vault';
import { adminCaller, bearer } from '../policy/support/principals';
import { accountService, auth, contractor, createSubject, mailer, SAMPLE, type Caller } from './support/data-callers';
import type { Sealed } from '../../src/crypto/sealed';
import { ConsentHistoryStore } from '../../src/store/consent-history';

let vault: TestVault;
let account: Caller;
beforeAll(async () => {
  vault = await startTestVault();
  account = await accountService(vault);
});
afterAll(() => vault.stop());

describe('erasure', () => {
  it('destroys the subject key so the ciphertexts left anywhere are unreadable, and later reads are 404', async () => {
    const { id } = await createSubject(vault, account, SAMPLE);
    const copy = await vault.vault.db('subjects').where({ id }).first();

    const res = await vault.delete(`/v1/subjects/${id}`).set('Authorization', auth(account)).expect(204);
    expect(res.text).toBe('');

    expect(await vault.vault.db('subjects').where({ id }).first()).toBeUndefined();
    expect(await vault.vault.db('subject_keys').where({ subject_id: id }).first()).toBeUndefined();
    await expect(vault.vault.keys.open(id, 'email', copy.email as Sealed)).rejects.toMatchObject({ code: expect.any(String) });
    expect((await vault.get(`/v1/subjects/${id}`).set('Authorization', auth(account)).expect(404)).body.code).toBe('subject_not_found');
    const search = await vault.post('/v1/subjects/search').set('Authorization', auth(account)).send({ email: SAMPLE.email }).expect(200);
    expect(search.body.subjects).not.toContainEqual({ id });
  });

  it('keeps the erasure in the audit trail without personal values', async () => {
    const { id } = await createSubject(vault, account, { email: 'erased-canary@example.com' });
    const res = await vault.delete(`/v1/subjects/${id}`).set('Authorization', auth(account)).expect(204);
    const rows = await vault.vault.db('audit_events').where({ request_id: res.headers['x-request-id'] });
    expect(rows).toEqual([expect.objectContaining({ action: 'subjects.erase', outcome: 'allowed', subject_id: id })]);
    const everything = JSON.stringify(await vault.vault.db('audit_events').where({ subject_id: id }));
    expect(everything).not.toContain('erased-canary');
  });

  it('answers erasing an unknown subject with 404 and a contractor without subjects:write with 403', async () => {
    await vault.delete('/v1/subjects/sub_AAAAAAAAAAAAAAAAAAAAAA').set('Authorization', auth(account)).expect(404);
    const { id } = await createSubject(vault, account, SAMPLE);
    await vault.delete(`/v1/subjects/${id}`).set('Authorization', auth(await contractor(vault, 'shipping'))).expect(403);
    expect(await vault.vault.db('subjects').where({ id }).first()).toBeDefined();
  });
});

describe('export', () => {
  it('returns everything held about the subject with the consent history and the access log', async () => {
    const { id } = await createSubject(vault, account, { ...SAMPLE, preferences: { newsletter: false } });
    await vault.get(`/v1/subjects/${id}/email`).set('Authorization', auth(await mailer(vault, 'transactional_email'))).expect(200);
    const res = await vault.get(`/v1/subjects/${id}/export`).set('Authorization', auth(account)).expect(200);
    expect(res.body.subject).toMatchObject({ id, ...SAMPLE });
    expect(res.body.preferences).toEqual({ newsletter: false, promotions: true, surveys: true, partner_offers: true, share_with_partners: false });
    expect(res.body.consent_history).toEqual([expect.objectContaining({ preference: 'newsletter', value: false })]);
    expect(res.body.access_log.map((e: { action: string }) => e.action)).toEqual(expect.arrayContaining(['subjects.create', 'emails.resolve']));
    expect(res.body.payment_methods).toEqual([]);
  });

  it('describes the subject at one version: a consent changed while it is read is in its preferences and its history alike', async () => {
    const { id } = await createSubject(vault, account, { email: 'exported.while.changed@example.com' });
    // The consent changes after the export read the subject's row, before it reads the history.
    const list = ConsentHistoryStore.prototype.list;
    let changed: Promise<unknown> | undefined;
    const spy = jest.spyOn(ConsentHistoryStore.prototype, 'list').mockImplementation(async function (this: ConsentHistoryStore, subjectId) {
      changed ??= vault.put(`/v1/subjects/${id}/preferences`).set('Authorization', auth(account)).send({ newsletter: false }).expect(200);
      await changed;
      return list.call(this, subjectId);
    });
    try {
      const res = await vault.get(`/v1/subjects/${id}/export`).set('Authorization', auth(account)).expect(200);

      expect(res.body.consent_history).toEqual([expect.objectContaining({ preference: 'newsletter', value: false })]);
      expect(res.body.preferences.newsletter).toBe(false);
      expect(res.body.subject.version).toBe(2);
    } finally {
      spy.mockRestore();
    }
  });

  it('carries the whole access log, however long, the oldest entry included', async () => {
    const { id } = await createSubject(vault, account, { email: 'long.history@example.com' });
    const reads = Array.from({ length: 1500 }, (_, i) => ({ action: 'subjects.read', outcome: 'allowed' as const, clientId: account.credentials.clientId, scopes: ['subjects:read'], subjectId: id, requestId: `req_bulk_${i}` }));
    await vault.vault.audit.writer.append(reads);

    const res = await vault.get(`/v1/subjects/${id}/export`).set('Authorization', auth(account)).expect(200);

    // The export's own decision, the 1,500 reads, the creation.
    expect(res.body.access_log).toHaveLength(1502);
    expect(res.body.access_log[0].action).toBe('subjects.export');
    expect(res.body.access_log.at(-1).action).toBe('subjects.create');
    const reading = await vault.vault.db('audit_events').where({ request_id: res.headers['x-request-id'], action: 'audit.access_log' });
    expect(reading).toHaveLength(1);
  });

  it('shows cards only at the level the purpose sees them: none, tokens alone, or masked with the holder name', async () => {
    const { id } = await createSubject(vault, account, SAMPLE);
    const card = { number: '4242424242424242', exp_month: 12, exp_year: new Date().getUTCFullYear() + 2, holder_name: 'J Q Cardholder' };
    const { token } = (await vault.post(`/v1/subjects/${id}/payment-methods`).set('Authorization', auth(account)).send(card).expect(201)).body;
    const admin = await adminCaller(vault, ['admin:policy']);
    const { policy, version } = (await vault.get('/v1/admin/policy').set(bearer(admin)).expect(200)).body;
    const everyField = { email: 'plain', name: 'plain', phone: 'plain', postal_address: 'plain', birth_date: 'plain' };
    policy.purposes.shipping.fields = everyField;
    policy.purposes.debt_collection.fields = { ...everyField, payment_method: 'token' };
    await vault.put('/v1/admin/policy').set(bearer(admin)).set('If-Match', `"${version}"`).send(policy).expect(200);
    const exportAs = async (purpose: string) =>
      (await vault.get(`/v1/subjects/${id}/export`).set('Authorization', auth(await contractor(vault, purpose))).expect(200)).body;

    const [none, tokens, masked] = [await exportAs('shipping'), await exportAs('debt_collection'), (await vault.get(`/v1/subjects/${id}/export`).set('Authorization', auth(account)).expect(200)).body];

    expect(none).not.toHaveProperty('payment_methods');
    expect(tokens.payment_methods).toEqual([{ token }]);
    expect(masked.payment_methods).toEqual([{ token, brand: 'visa', last4: '4242', exp_month: card.exp_month, exp_year: card.exp_year, holder_name: 'J Q Cardholder' }]);
    // A token-level purpose learns nothing of what is sealed with the card.
    expect(JSON.stringify(tokens)).not.toContain('Cardholder');
    for (const exported of [none, tokens, masked]) expect(JSON.stringify(exported)).not.toContain(card.number);
    const events = await vault.vault.db('audit_events').where({ subject_id: id, action: 'subjects.export' }).orderBy('seq');
    expect(events.map((e) => e.fields.payment_method)).toEqual(['absent', 'token', 'masked']);
  });
});
