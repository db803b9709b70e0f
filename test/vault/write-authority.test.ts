import { startTestVault, type TestVault } from '../support/test-vault';
import { callerWith } from '../policy/support/principals';
import { accountService, auth, createSubject, SAMPLE, type Caller } from './support/data-callers';

const VISA = { number: '4242424242424242', exp_month: 12, exp_year: new Date().getUTCFullYear() + 3, holder_name: 'Jo Example' };

let vault: TestVault;
let account: Caller;
beforeAll(async () => {
  vault = await startTestVault();
  account = await accountService(vault);
});
afterAll(() => vault.stop());

/** A client of `purpose` holding `scopes`, with a token for all of them. */
const clientWith = (scopes: string[], purpose: string) => callerWith(vault, { scopes, purposes: [purpose] }, scopes.join(' '), purpose);

describe('consent is changed only by a client entitled to record it', () => {
  it('refuses preferences in a PATCH from a client without preferences:write, and changes nothing', async () => {
    const writer = await clientWith(['subjects:write', 'subjects:read'], 'account_management');
    const { id, etag } = await createSubject(vault, account, { ...SAMPLE, preferences: { newsletter: false, share_with_partners: false } });

    const res = await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(writer)).set('If-Match', etag).send({ name: 'New Name', preferences: { newsletter: true, share_with_partners: true } });

    expect([res.status, res.body.code]).toEqual([403, 'insufficient_scope']);
    const row = await vault.vault.db('subjects').where({ id }).first();
    expect([row.version, row.preferences]).toEqual([1, { newsletter: false, share_with_partners: false }]);
    expect(await vault.vault.db('consent_history').where({ subject_id: id, changed_by: writer.credentials.clientId })).toEqual([]);
    // The same client may still change what it is entitled to.
    await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(writer)).set('If-Match', etag).send({ name: 'New Name' }).expect(200);
  });

  it('refuses preferences in a creation from a client without preferences:write, and stores nothing', async () => {
    const writer = await clientWith(['subjects:write'], 'account_management');
    const before = await vault.vault.db('subjects').count('* as n').first();

    const res = await vault.post('/v1/subjects').set('Authorization', auth(writer)).send({ email: 'consent.smuggler@example.com', preferences: { partner_offers: true } });

    expect([res.status, res.body.code]).toEqual([403, 'insufficient_scope']);
    expect(await vault.vault.db('subjects').count('* as n').first()).toEqual(before);
  });
});

describe("consent is the subject's choice, recorded only by the record's owner", () => {
  it('refuses a creation that sets preferences from a purpose that does not own the record as not_record_owner, whatever they say of its category', async () => {
    const mailer = await clientWith(['subjects:write', 'preferences:write'], 'newsletter');
    const before = await vault.vault.db('subjects').count('* as n').first();
    for (const newsletter of [false, true]) {
      const res = await vault.post('/v1/subjects').set('Authorization', auth(mailer)).send({ email: `consent.${newsletter}@example.com`, preferences: { newsletter } });
      expect([newsletter, res.status, res.body.code]).toEqual([newsletter, 403, 'not_record_owner']);
    }
    expect(await vault.vault.db('subjects').count('* as n').first()).toEqual(before);
  });

  it('refuses a consent change from a purpose that does not own the record, even with preferences:write, and sharing stays refused', async () => {
    const { id, etag } = await createSubject(vault, account, { ...SAMPLE, preferences: { share_with_partners: false } });
    const partnerMailer = await clientWith(['emails:resolve'], 'joint_promotion');

    for (const purpose of ['shipping', 'customer_support', 'joint_promotion', 'analytics']) {
      const contractor = await clientWith(['preferences:write', 'subjects:write'], purpose);
      const put = await vault.put(`/v1/subjects/${id}/preferences`).set('Authorization', auth(contractor)).send({ share_with_partners: true, newsletter: true });
      const read = await vault.get(`/v1/subjects/${id}/preferences`).set('Authorization', auth(contractor));
      expect([purpose, put.status, put.body.code, read.status]).toEqual([purpose, 403, 'not_record_owner', 403]);
      expect(put.body.detail).toContain("is for the record's owner");
      const patched = await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(contractor)).set('If-Match', etag).send({ preferences: { share_with_partners: true } });
      expect([purpose, patched.status, patched.body.code]).toEqual([purpose, 403, 'not_record_owner']);
    }

    const row = await vault.vault.db('subjects').where({ id }).first();
    expect([row.version, row.preferences]).toEqual([1, { share_with_partners: false }]);
    expect(await vault.vault.db('consent_history').where({ subject_id: id }).whereNot({ changed_by: account.credentials.clientId })).toEqual([]);
    const email = await vault.get(`/v1/subjects/${id}/email`).set('Authorization', auth(partnerMailer));
    expect([email.status, email.body.code]).toEqual([403, 'sharing_not_consented']);
  });

  it("lets the account service record consent, and the partner purpose then resolves the address", async () => {
    const { id } = await createSubject(vault, account, { ...SAMPLE, preferences: { share_with_partners: false } });
    const partnerMailer = await clientWith(['emails:resolve'], 'joint_promotion');
    await vault.put(`/v1/subjects/${id}/preferences`).set('Authorization', auth(account)).send({ share_with_partners: true }).expect(200);
    await vault.get(`/v1/subjects/${id}/email`).set('Authorization', auth(partnerMailer)).expect(200);
  });
});

describe("a subject's values are created and changed by the record's owner alone", () => {
  it('refuses every write from another purpose, whatever its scopes and whatever it sees, and changes nothing', async () => {
    const { id, etag } = await createSubject(vault, account, { ...SAMPLE, external_id: 'acct-owner-1' });
    const before = await vault.vault.db('subjects').count('* as n').first();
    // Shipping sees the name in plain, customer support the email masked, the newsletter the email in plain.
    for (const purpose of ['shipping', 'customer_support', 'newsletter']) {
      const writer = await clientWith(['subjects:write', 'subjects:read'], purpose);
      for (const body of [{ external_id: 'taken-over' }, { name: 'Jo Shipped' }, { email: 'attacker@example.net' }, { phone: null }]) {
        const patched = await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(writer)).set('If-Match', etag).send(body);
        expect([purpose, body, patched.status, patched.body.code]).toEqual([purpose, body, 403, 'not_record_owner']);
      }
      const created = await vault.post('/v1/subjects').set('Authorization', auth(writer)).send({ name: 'Made Elsewhere' });
      expect([purpose, created.status, created.body.code]).toEqual([purpose, 403, 'not_record_owner']);
    }
    expect(await vault.vault.db('subjects').where({ id }).first()).toMatchObject({ external_id: 'acct-owner-1', version: 1 });
    expect(await vault.vault.db('subjects').count('* as n').first()).toEqual(before);
  });

  it('lets the account service set and change it, and answers with the fields it changed only', async () => {
    const { id, etag } = await createSubject(vault, account, { ...SAMPLE, external_id: 'acct-owner-2' });
    const res = await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('If-Match', etag).send({ external_id: 'acct-owner-2b' }).expect(200);
    expect(res.body.external_id).toBe('acct-owner-2b');
    for (const field of ['email', 'name', 'phone', 'postal_address', 'birth_date']) expect(res.body).not.toHaveProperty(field);
  });
});

describe('erasure and card removal need a purpose entitled to the data they destroy', () => {
  it('refuses erasure for a purpose that does not own the record, and keeps the subject', async () => {
    const { id } = await createSubject(vault, account, SAMPLE);
    for (const purpose of ['shipping', 'customer_support', 'debt_collection']) {
      const writer = await clientWith(['subjects:write'], purpose);
      const res = await vault.delete(`/v1/subjects/${id}`).set('Authorization', auth(writer));
      expect([purpose, res.status, res.body.code]).toEqual([purpose, 403, 'not_record_owner']);
    }
    expect(await vault.vault.db('subject_keys').where({ subject_id: id }).first()).toBeDefined();
    await vault.delete(`/v1/subjects/${id}`).set('Authorization', auth(account)).expect(204);
  });

  it('refuses removing a card for a purpose that cannot see payment methods, and keeps the card', async () => {
    const { id } = await createSubject(vault, account, SAMPLE);
    const token = (await vault.post(`/v1/subjects/${id}/payment-methods`).set('Authorization', auth(account)).send(VISA).expect(201)).body.token;
    const shipping = await clientWith(['payment_methods:write'], 'shipping');

    const res = await vault.delete(`/v1/payment-methods/${token}`).set('Authorization', auth(shipping));

    expect(res.status).toBe(403);
    expect(await vault.vault.db('payment_methods').where({ token }).first()).toBeDefined();
    const billing = await clientWith(['payment_methods:write'], 'billing');
    await vault.delete(`/v1/payment-methods/${token}`).set('Authorization', auth(billing)).expect(204);
  });
});

describe('a purpose the subject opted out of', () => {
  it('may not change the record (its email, so the account\'s own mail) nor find it by email, while the owner still may', async () => {
    const { id, etag } = await createSubject(vault, account, { ...SAMPLE, email: 'no.sharing@example.com', preferences: { share_with_partners: false, surveys: false } });
    for (const purpose of ['joint_promotion', 'surveys']) {
      const writer = await clientWith(['subjects:write', 'subjects:search'], purpose);
      const patched = await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(writer)).set('If-Match', etag).send({ email: 'attacker@example.net' });
      expect([purpose, patched.status, patched.body.code]).toEqual([purpose, 403, 'not_record_owner']);
      const removed = await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(writer)).set('If-Match', etag).send({ email: null });
      expect([purpose, removed.status]).toEqual([purpose, 403]);
      const found = await vault.post('/v1/subjects/search').set('Authorization', auth(writer)).send({ email: 'no.sharing@example.com' }).expect(200);
      expect([purpose, found.body.subjects]).toEqual([purpose, []]);
    }
    const row = await vault.vault.db('subjects').where({ id }).first();
    expect(row.version).toBe(1);
    const owner = await vault.post('/v1/subjects/search').set('Authorization', auth(account)).send({ email: 'no.sharing@example.com' }).expect(200);
    expect(owner.body.subjects).toEqual([{ id }]);
    await vault.put(`/v1/subjects/${id}/preferences`).set('Authorization', auth(account)).send({ share_with_partners: true }).expect(200);
    const partner = await clientWith(['subjects:search'], 'joint_promotion');
    const afterConsent = await vault.post('/v1/subjects/search').set('Authorization', auth(partner)).send({ email: 'no.sharing@example.com' }).expect(200);
    expect(afterConsent.body.subjects).toEqual([{ id }]);
  });
});
