import { accessToken } from '../identity/support/identity-helpers';
import { callerWith } from '../policy/support/principals';
import { holdRowLocks } from '../support/row-lock';
import { startTestVault, type TestVault } from '../support/test-vault';
import { accountService, auth, createSubject, type Caller } from './support/data-callers';

let vault: TestVault;
let account: Caller;
let billing: Caller;
/** The billing service's second token: the same client, bound to payment_processing. */
let processing: string;

const YEAR = new Date().getUTCFullYear() + 3;
const VISA = { number: '4242424242424242', exp_month: 12, exp_year: YEAR, holder_name: 'Jo Example' };
const AMEX = { number: '378282246310005', exp_month: 6, exp_year: YEAR, holder_name: 'Jo Example' };

beforeAll(async () => {
  vault = await startTestVault();
  account = await accountService(vault);
  billing = await callerWith(
    vault,
    { scopes: ['payment_methods:read', 'payment_methods:reveal'], purposes: ['billing', 'payment_processing'] },
    'payment_methods:read payment_methods:reveal',
    'billing',
  );
  processing = await accessToken(vault, billing.credentials, { scope: 'payment_methods:read payment_methods:reveal', purpose: 'payment_processing' });
});
afterAll(() => vault.stop());

const rowsOf = (subjectId: string) => vault.vault.db('payment_methods').where({ subject_id: subjectId }).orderBy('created_at');
const addCard = (subjectId: string, card: Record<string, unknown>, caller: Caller = account) =>
  vault.post(`/v1/subjects/${subjectId}/payment-methods`).set('Authorization', auth(caller)).send(card);

/** Holds the subject's row lock until `release`, so adds sent meanwhile queue behind it. */
const lockSubject = (subjectId: string) => holdRowLocks(vault.database.url, 'select 1 from subjects where id = $1 for update', [subjectId]);

describe('tokenizing a card for the account service', () => {
  it('answers 201 with a pm_ token, brand, last four, expiry and fingerprint, and stores the number only sealed', async () => {
    const { id } = await createSubject(vault, account);
    const res = await addCard(id, VISA).expect(201);
    expect(res.body).toEqual({
      token: expect.stringMatching(/^pm_[A-Za-z0-9_-]{22}$/),
      brand: 'visa',
      last4: '4242',
      exp_month: 12,
      exp_year: YEAR,
      fingerprint: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    expect(res.headers.location).toBe(`/v1/payment-methods/${res.body.token}`);

    const [row, ...others] = await rowsOf(id);
    expect(others).toHaveLength(0);
    expect(row).toMatchObject({ token: res.body.token, brand: 'visa', last4: '4242', exp_month: 12, exp_year: YEAR });
    expect(row.card.toString('latin1')).not.toContain(VISA.number);
    expect(row.card.toString('latin1')).not.toContain(VISA.holder_name);
    expect(row.fingerprint.subarray(0, 16).toString('hex')).toBe(res.body.fingerprint);
  });

  it('names brands in the policy vocabulary: an American Express card is amex', async () => {
    const { id } = await createSubject(vault, account);
    const res = await addCard(id, AMEX).expect(201);
    expect(res.body).toMatchObject({ brand: 'amex', last4: '0005' });
  });

  it('does not store the same card twice for one subject: the second add answers 200 with the first token', async () => {
    const { id } = await createSubject(vault, account);
    const first = await addCard(id, VISA).expect(201);
    const again = await addCard(id, { ...VISA, holder_name: 'J. Example' }).expect(200);
    expect(again.body).toEqual(first.body);
    expect(again.headers.location).toBe(`/v1/payment-methods/${first.body.token}`);
    expect(await rowsOf(id)).toHaveLength(1);
  });

  it('keeps the later expiry when the same card comes again reissued, and ignores an earlier one', async () => {
    const { id } = await createSubject(vault, account);
    const first = await addCard(id, VISA).expect(201);
    const reissued = await addCard(id, { ...VISA, exp_month: 3, exp_year: YEAR + 2 }).expect(200);
    expect(reissued.body).toEqual({ ...first.body, exp_month: 3, exp_year: YEAR + 2 });
    const stale = await addCard(id, VISA).expect(200);
    expect(stale.body).toEqual(reissued.body);
    expect((await rowsOf(id)).map((r: { exp_month: number; exp_year: number }) => [r.exp_month, r.exp_year])).toEqual([[3, YEAR + 2]]);
  });

  it('takes the holder name of the card as it is now, and not from an older copy of it', async () => {
    const { id } = await createSubject(vault, account);
    const { token } = (await addCard(id, VISA).expect(201)).body;
    const reveal = async () => (await vault.post(`/v1/payment-methods/${token}/reveal`).set('Authorization', `Bearer ${processing}`).expect(200)).body;

    await addCard(id, { ...VISA, holder_name: 'Jo Q Example' }).expect(200);
    expect(await reveal()).toMatchObject({ holder_name: 'Jo Q Example', exp_month: 12, exp_year: YEAR });

    await addCard(id, { ...VISA, holder_name: 'Jo Reissued', exp_month: 1, exp_year: YEAR + 1 }).expect(200);
    expect(await reveal()).toMatchObject({ number: VISA.number, holder_name: 'Jo Reissued', exp_month: 1, exp_year: YEAR + 1 });

    await addCard(id, { ...VISA, holder_name: 'Old Copy' }).expect(200);
    expect(await reveal()).toMatchObject({ holder_name: 'Jo Reissued', exp_month: 1, exp_year: YEAR + 1 });
    expect(await rowsOf(id)).toHaveLength(1);
  });

  it('stores one row when the same card is added concurrently', async () => {
    const { id } = await createSubject(vault, account);
    const responses = await Promise.all(Array.from({ length: 6 }, () => addCard(id, VISA)));
    expect(responses.filter((r) => r.status === 201)).toHaveLength(1);
    expect(responses.every((r) => r.status === 201 || r.status === 200)).toBe(true);
    expect(new Set(responses.map((r) => r.body.token)).size).toBe(1);
    expect(await rowsOf(id)).toHaveLength(1);
  });

  it('keeps, of concurrent adds of one card, the holder name sent with the expiry it keeps', async () => {
    const { id } = await createSubject(vault, account);
    const copies = Array.from({ length: 4 }, (_, i) => ({ ...VISA, exp_year: YEAR + i, holder_name: `Holder ${i}` }));
    // Every add looks for the card before any stores it, waiting together on the subject's row
    // lock; the one with the latest expiry waits last, so another stores the card first.
    const lock = await lockSubject(id);
    let responses;
    try {
      const earlier = copies.slice(0, 3).map((copy) => addCard(id, copy).then((r) => r));
      await lock.waitForWaiters(3);
      const latest = addCard(id, copies[3]!).then((r) => r);
      await lock.waitForWaiters(4);
      await lock.release();
      responses = await Promise.all([...earlier, latest]);
    } catch (error) {
      await lock.release().catch(() => undefined);
      throw error;
    }
    expect(responses.map((r) => r.status).sort()).toEqual([200, 200, 200, 201]);
    const [row, ...others] = await rowsOf(id);
    expect(others).toHaveLength(0);
    const revealed = (await vault.post(`/v1/payment-methods/${row.token}/reveal`).set('Authorization', `Bearer ${processing}`).expect(200)).body;
    expect(revealed).toMatchObject({ exp_year: YEAR + 3, holder_name: 'Holder 3' });
  });

  it('gives the same card the same fingerprint on two subjects, each with a token of its own', async () => {
    const one = await createSubject(vault, account);
    const two = await createSubject(vault, account);
    const a = await addCard(one.id, VISA).expect(201);
    const b = await addCard(two.id, VISA).expect(201);
    expect(b.body.fingerprint).toBe(a.body.fingerprint);
    expect(b.body.token).not.toBe(a.body.token);
  });

  it.each([
    ['a number failing the Luhn check', { ...VISA, number: '4242424242424241' }, '/number'],
    ['an expired card', { ...VISA, exp_month: 1, exp_year: 2020 }, '/exp_year'],
    ['a number with spaces', { ...VISA, number: '4242 4242 4242 4242' }, '/number'],
    ['a month out of range', { ...VISA, exp_month: 13 }, '/exp_month'],
    ['an unknown property', { ...VISA, nickname: 'work card' }, '/nickname'],
  ])('refuses %s with 422 validation_failed pointing at the field, and stores nothing', async (_label, card, pointer) => {
    const { id } = await createSubject(vault, account);
    const res = await addCard(id, card).expect(422);
    expect(res.body.code).toBe('validation_failed');
    expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toContain(pointer);
    expect(await rowsOf(id)).toHaveLength(0);
  });

  it('refuses a 19-digit number sent as a JSON number (its last digits already lost) at /number', async () => {
    const { id } = await createSubject(vault, account);
    const body = `{"number": 6011000990139424123, "exp_month": 12, "exp_year": ${YEAR}, "holder_name": "Jo Example"}`;
    const res = await vault.post(`/v1/subjects/${id}/payment-methods`).set('Authorization', auth(account)).set('Content-Type', 'application/json').send(body).expect(422);
    expect(res.body.code).toBe('validation_failed');
    expect(res.body.errors).toEqual([{ pointer: '/number', detail: 'number must be a string of digits' }]);
    expect(JSON.stringify(res.body)).not.toContain('6011000990139424');
    expect(await rowsOf(id)).toHaveLength(0);
  });

  it('refuses a card with a CVV with 422 cvv_not_accepted, without echoing it, and stores nothing', async () => {
    const { id } = await createSubject(vault, account);
    const res = await addCard(id, { ...VISA, cvv: '7391' }).expect(422);
    expect(res.body.code).toBe('cvv_not_accepted');
    expect(res.body.errors).toEqual([{ pointer: '/cvv', detail: expect.any(String) }]);
    expect(res.text).not.toContain('7391');
    expect(res.text).not.toContain(VISA.number);
    expect(await rowsOf(id)).toHaveLength(0);
  });

  it('answers 404 subject_not_found for a subject that does not exist', async () => {
    const res = await addCard('sub_AAAAAAAAAAAAAAAAAAAAAA', VISA).expect(404);
    expect(res.body.code).toBe('subject_not_found');
  });

  it('refuses a token without payment_methods:write with 403 insufficient_scope', async () => {
    const { id } = await createSubject(vault, account);
    const res = await addCard(id, VISA, billing).expect(403);
    expect(res.body.code).toBe('insufficient_scope');
    expect(await rowsOf(id)).toHaveLength(0);
  });
});

describe('billing reading payment methods', () => {
  let subjectId: string;
  let visa: { token: string; fingerprint: string };
  let amex: { token: string };
  beforeAll(async () => {
    subjectId = (await createSubject(vault, account)).id;
    visa = (await addCard(subjectId, VISA).expect(201)).body;
    amex = (await addCard(subjectId, AMEX).expect(201)).body;
  });

  it('lists the subject\'s tokens with brand, last four and expiry, never the number or holder name', async () => {
    const res = await vault.get(`/v1/subjects/${subjectId}/payment-methods`).set('Authorization', auth(billing)).expect(200);
    expect(res.body).toEqual({
      subject_id: subjectId,
      payment_methods: [
        { token: visa.token, brand: 'visa', last4: '4242', exp_month: 12, exp_year: YEAR, fingerprint: visa.fingerprint },
        { token: amex.token, brand: 'amex', last4: '0005', exp_month: 6, exp_year: YEAR, fingerprint: expect.stringMatching(/^[0-9a-f]{32}$/) },
      ],
    });
    expect(res.text).not.toContain(VISA.number);
    expect(res.text).not.toContain(VISA.holder_name);
  });

  it('reads one payment method masked', async () => {
    const res = await vault.get(`/v1/payment-methods/${visa.token}`).set('Authorization', auth(billing)).expect(200);
    expect(res.body).toEqual({ token: visa.token, brand: 'visa', last4: '4242', exp_month: 12, exp_year: YEAR, fingerprint: visa.fingerprint });
  });

  it('shows payment processing the cards masked too, and records them as shown masked, not as revealed', async () => {
    const listed = await vault.get(`/v1/subjects/${subjectId}/payment-methods`).set('Authorization', `Bearer ${processing}`).expect(200);
    const read = await vault.get(`/v1/payment-methods/${visa.token}`).set('Authorization', `Bearer ${processing}`).expect(200);

    expect(listed.text).not.toContain(VISA.number);
    expect(read.body).toEqual({ token: visa.token, brand: 'visa', last4: '4242', exp_month: 12, exp_year: YEAR, fingerprint: visa.fingerprint });
    for (const res of [listed, read]) {
      const events = await vault.vault.db('audit_events').where({ request_id: res.headers['x-request-id'] });
      expect(events.map((e) => [e.action, e.outcome, e.fields])).toEqual([[expect.stringMatching(/^payment_methods\.(list|read)$/), 'allowed', { payment_method: 'masked' }]]);
    }
  });

  it('answers an empty list for a subject without payment methods', async () => {
    const { id } = await createSubject(vault, account);
    const res = await vault.get(`/v1/subjects/${id}/payment-methods`).set('Authorization', auth(billing)).expect(200);
    expect(res.body).toEqual({ subject_id: id, payment_methods: [] });
  });

  it('answers 404 payment_method_not_found for an unknown or malformed token', async () => {
    for (const token of ['pm_AAAAAAAAAAAAAAAAAAAAAA', 'not-a-token']) {
      const res = await vault.get(`/v1/payment-methods/${token}`).set('Authorization', auth(billing)).expect(404);
      expect(res.body.code).toBe('payment_method_not_found');
    }
  });

  it('refuses a purpose that does not see payment methods with 403 field_not_allowed', async () => {
    const shipping = await callerWith(vault, { scopes: ['payment_methods:read'], purposes: ['shipping'] }, 'payment_methods:read', 'shipping');
    const res = await vault.get(`/v1/subjects/${subjectId}/payment-methods`).set('Authorization', auth(shipping)).expect(403);
    expect(res.body.code).toBe('field_not_allowed');
    expect(res.body.detail).toBe('The purpose shipping sees payment_method absent; payment_methods.list needs to see at least one of them');
  });
});

describe('revealing a card for payment processing', () => {
  let token: string;
  beforeAll(async () => {
    const { id } = await createSubject(vault, account);
    token = (await addCard(id, VISA).expect(201)).body.token;
  });

  it('returns the full number, holder name and expiry to payment_processing with payment_methods:reveal', async () => {
    const res = await vault.post(`/v1/payment-methods/${token}/reveal`).set('Authorization', `Bearer ${processing}`).expect(200);
    expect(res.body).toEqual({ token, brand: 'visa', number: VISA.number, holder_name: VISA.holder_name, exp_month: 12, exp_year: YEAR });
  });

  it('records a token that names no card as a lookup that found nothing, without the token', async () => {
    const revealed = await vault.post(`/v1/payment-methods/${token}/reveal`).set('Authorization', `Bearer ${processing}`).expect(200);
    const unknown = 'pm_AAAAAAAAAAAAAAAAAAAAAA';
    const missing = await vault.post(`/v1/payment-methods/${unknown}/reveal`).set('Authorization', `Bearer ${processing}`).expect(404);
    const removed = await vault.delete(`/v1/payment-methods/${unknown}`).set('Authorization', auth(account)).expect(404);
    const malformed = await vault.get('/v1/payment-methods/not-a-token').set('Authorization', auth(billing)).expect(404);

    const eventOf = async (res: { headers: Record<string, string> }) => {
      const [event, ...others] = await vault.vault.db('audit_events').where({ request_id: res.headers['x-request-id'] });
      expect(others).toEqual([]);
      expect(JSON.stringify(event)).not.toContain(unknown);
      return [event.action, event.reason, event.fields, event.subject_id];
    };
    expect(await eventOf(revealed)).toEqual(['payment_methods.reveal', null, { payment_method: 'plain' }, expect.stringMatching(/^sub_/)]);
    expect(await eventOf(missing)).toEqual(['payment_methods.reveal', 'not_found', {}, null]);
    expect(await eventOf(removed)).toEqual(['payment_methods.delete', 'not_found', {}, null]);
    expect(await eventOf(malformed)).toEqual(['payment_methods.read', 'not_found', {}, null]);
  });

  it('refuses the billing purpose with 403 field_not_allowed, even with payment_methods:reveal', async () => {
    const res = await vault.post(`/v1/payment-methods/${token}/reveal`).set('Authorization', auth(billing)).expect(403);
    expect(res.body.code).toBe('field_not_allowed');
    // Says what fell short, so the caller knows it needs another purpose, not another scope.
    expect(res.body.detail).toBe('The purpose billing sees payment_method masked; payment_methods.reveal needs each field in plain');
    expect(res.text).not.toContain(VISA.number);
  });

  it('refuses a payment_processing token without payment_methods:reveal with 403 insufficient_scope, and audits the refusal', async () => {
    const readOnly = await accessToken(vault, billing.credentials, { scope: 'payment_methods:read', purpose: 'payment_processing' });
    const res = await vault.post(`/v1/payment-methods/${token}/reveal`).set('Authorization', `Bearer ${readOnly}`).expect(403);
    expect(res.body.code).toBe('insufficient_scope');
    expect(res.text).not.toContain(VISA.number);
    const event = await vault.vault.db('audit_events').where({ request_id: res.headers['x-request-id'] }).first();
    expect(event).toMatchObject({ outcome: 'denied', reason: 'insufficient_scope', client_id: billing.credentials.clientId });
  });

  it('refuses the account service, whose token holds no reveal scope, with 403', async () => {
    const res = await vault.post(`/v1/payment-methods/${token}/reveal`).set('Authorization', auth(account)).expect(403);
    expect(res.body.code).toBe('insufficient_scope');
  });

  it('answers 404 for an unknown token, after deciding the purpose may reveal at all', async () => {
    const res = await vault.post('/v1/payment-methods/pm_AAAAAAAAAAAAAAAAAAAAAA/reveal').set('Authorization', `Bearer ${processing}`).expect(404);
    expect(res.body.code).toBe('payment_method_not_found');
    const refused = await vault.post('/v1/payment-methods/pm_AAAAAAAAAAAAAAAAAAAAAA/reveal').set('Authorization', auth(billing)).expect(403);
    expect(refused.body.code).toBe('field_not_allowed');
  });
});

describe('removing payment methods', () => {
  let deleter: Caller;
  beforeAll(async () => {
    deleter = await callerWith(
      vault,
      { scopes: ['payment_methods:write', 'payment_methods:read'], purposes: ['account_management'] },
      'payment_methods:write payment_methods:read',
      'account_management',
    );
  });

  it('deletes one payment method; later reads and deletes are 404 and its row is gone', async () => {
    const { id } = await createSubject(vault, account);
    const kept = (await addCard(id, AMEX).expect(201)).body.token;
    const token = (await addCard(id, VISA).expect(201)).body.token;
    await vault.delete(`/v1/payment-methods/${token}`).set('Authorization', auth(deleter)).expect(204);

    expect((await vault.get(`/v1/payment-methods/${token}`).set('Authorization', auth(billing)).expect(404)).body.code).toBe('payment_method_not_found');
    expect((await vault.delete(`/v1/payment-methods/${token}`).set('Authorization', auth(deleter)).expect(404)).body.code).toBe('payment_method_not_found');
    expect((await rowsOf(id)).map((row) => row.token)).toEqual([kept]);
  });

  it('refuses a delete without payment_methods:write with 403 and keeps the row', async () => {
    const { id } = await createSubject(vault, account);
    const token = (await addCard(id, VISA).expect(201)).body.token;
    const res = await vault.delete(`/v1/payment-methods/${token}`).set('Authorization', auth(billing)).expect(403);
    expect(res.body.code).toBe('insufficient_scope');
    expect(await rowsOf(id)).toHaveLength(1);
  });

  it('lets the same card be added again after it was deleted, under a new token', async () => {
    const { id } = await createSubject(vault, account);
    const first = (await addCard(id, VISA).expect(201)).body.token;
    await vault.delete(`/v1/payment-methods/${first}`).set('Authorization', auth(deleter)).expect(204);
    const second = (await addCard(id, VISA).expect(201)).body.token;
    expect(second).not.toBe(first);
  });

  it('removes every payment method of an erased subject; its tokens then answer 404', async () => {
    const { id } = await createSubject(vault, account);
    const tokens = [(await addCard(id, VISA).expect(201)).body.token, (await addCard(id, AMEX).expect(201)).body.token];
    await vault.delete(`/v1/subjects/${id}`).set('Authorization', auth(account)).expect(204);

    expect(await rowsOf(id)).toHaveLength(0);
    for (const token of tokens) {
      expect((await vault.get(`/v1/payment-methods/${token}`).set('Authorization', auth(billing)).expect(404)).body.code).toBe('payment_method_not_found');
      expect((await vault.post(`/v1/payment-methods/${token}/reveal`).set('Authorization', `Bearer ${processing}`).expect(404)).body.code).toBe('payment_method_not_found');
    }
    expect((await vault.get(`/v1/subjects/${id}/payment-methods`).set('Authorization', auth(billing)).expect(404)).body.code).toBe('subject_not_found');
  });
});
