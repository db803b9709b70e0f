import { startTestVault, type TestVault } from '../support/test-vault';
import { callerWith } from '../policy/support/principals';
import { holdRowLocks } from '../support/row-lock';
import { accountService, auth, createSubject, mailer, SAMPLE, type Caller } from './support/data-callers';

let vault: TestVault;
let account: Caller;
let subjectId: string;
beforeAll(async () => {
  vault = await startTestVault();
  account = await accountService(vault);
  subjectId = (await createSubject(vault, account, SAMPLE)).id;
});
afterAll(() => vault.stop());

/** The trail's events for one answered request, by the vault's request id. */
const eventsOf = async (res: { headers: Record<string, string> }) =>
  (await vault.vault.db('audit_events').where({ request_id: res.headers['x-request-id'] }).orderBy('seq')).map((e) => [e.action, e.outcome, e.reason]);

describe('a caller refused for a missing scope on the subject and email routes', () => {
  it('is recorded once for each route of the account service the mailer tries', async () => {
    const mail = await mailer(vault, 'transactional_email');
    const attempts = [
      vault.get(`/v1/subjects/${subjectId}`),
      vault.get(`/v1/subjects/${subjectId}/export`),
      vault.put(`/v1/subjects/${subjectId}/preferences`).send({ newsletter: false }),
      vault.post('/v1/subjects/search').send({ email: SAMPLE.email }),
      vault.delete(`/v1/subjects/${subjectId}`),
      vault.post('/v1/subjects').send({ email: 'not.created@example.com' }),
    ];
    for (const attempt of attempts) {
      const res = await attempt.set('Authorization', auth(mail));
      expect([res.status, res.body.code]).toEqual([403, 'insufficient_scope']);
      expect(await eventsOf(res)).toEqual([['subjects.access', 'denied', 'insufficient_scope']]);
    }
    expect(await vault.vault.db('subjects').where({ id: subjectId }).first()).toMatchObject({ version: 1 });
  });

  it('is recorded once as the mailer\'s route, not again as a subject route', async () => {
    const reader = await callerWith(vault, { scopes: ['subjects:read'], purposes: ['transactional_email'] }, 'subjects:read', 'transactional_email');
    const one = await vault.get(`/v1/subjects/${subjectId}/email`).set('Authorization', auth(reader));
    const batch = await vault.post('/v1/emails/resolve').set('Authorization', auth(reader)).send({ subject_ids: [subjectId] });

    for (const res of [one, batch]) {
      expect([res.status, res.body.code]).toEqual([403, 'insufficient_scope']);
      expect(await eventsOf(res)).toEqual([['emails.access', 'denied', 'insufficient_scope']]);
    }
  });

  it('refused by the decision instead (consent without preferences:write) is recorded once, with the scope challenge', async () => {
    const writer = await callerWith(vault, { scopes: ['subjects:write'], purposes: ['account_management'] }, 'subjects:write', 'account_management');
    const { id, etag } = await createSubject(vault, account, { email: 'challenge@example.com' });

    const res = await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(writer)).set('If-Match', etag).send({ preferences: { newsletter: false } });

    expect([res.status, res.body.code]).toEqual([403, 'insufficient_scope']);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="pdvault", error="insufficient_scope", scope="preferences:write"');
    // The write was decided first; the consent in it is what was refused, and so the write did not
    // happen: the trail says so after it. Not recorded a second time as subjects.access.
    expect(await eventsOf(res)).toEqual([
      ['subjects.update', 'allowed', null],
      ['preferences.write', 'denied', 'insufficient_scope'],
      ['subjects.update', 'denied', 'not_done:insufficient_scope'],
    ]);
  });
});

describe('a write its decision allowed and the vault then refused', () => {
  it('is recorded as not done, so the access log does not show a change that did not happen', async () => {
    const { id, etag } = await createSubject(vault, account, { email: 'stale.writer@example.com', name: 'First Name' });
    await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('If-Match', etag).send({ name: 'Second Name' }).expect(200);

    const stale = await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('If-Match', etag).send({ name: 'Lost Name', preferences: { surveys: false } });

    expect([stale.status, stale.body.code]).toEqual([412, 'precondition_failed']);
    expect(await eventsOf(stale)).toEqual([
      ['subjects.update', 'allowed', null],
      ['preferences.write', 'allowed', null],
      ['subjects.update', 'denied', 'not_done:precondition_failed'],
      ['preferences.write', 'denied', 'not_done:precondition_failed'],
    ]);
    expect(await vault.vault.db('subjects').where({ id }).first()).toMatchObject({ version: 2 });
    const log = await vault.get(`/v1/subjects/${id}/export`).set('Authorization', auth(account)).expect(200);
    type Entry = { action: string; outcome: string; reason: string | null; request_id: string };
    const updates = (log.body.access_log as Entry[]).filter((entry) => entry.action === 'subjects.update').map((entry) => [entry.outcome, entry.reason, entry.request_id]);
    // Newest first: the refusal and the stale writer's decision, paired by request, then the change that landed.
    const staleRequest = stale.headers['x-request-id'];
    expect(updates).toEqual([
      ['denied', 'not_done:precondition_failed', staleRequest],
      ['allowed', null, staleRequest],
      ['allowed', null, expect.not.stringMatching(staleRequest!)],
    ]);
  });

  it('records a taken external_id as not done too', async () => {
    await createSubject(vault, account, { email: 'holder@example.com', external_id: 'acct-taken-1' });
    const { id, etag } = await createSubject(vault, account, { email: 'taker@example.com' });

    const res = await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('If-Match', etag).send({ external_id: 'acct-taken-1' });

    expect([res.status, res.body.code]).toEqual([409, 'external_id_taken']);
    expect(await eventsOf(res)).toEqual([
      ['subjects.update', 'allowed', null],
      ['subjects.update', 'denied', 'not_done:external_id_taken'],
    ]);
  });

  it('records a creation retried with its Idempotency-Key as made of the subject it answers with', async () => {
    const body = { email: 'retried@example.com' };
    const first = await vault.post('/v1/subjects').set('Authorization', auth(account)).set('Idempotency-Key', 'retry-audit-1').send(body).expect(201);
    const retry = await vault.post('/v1/subjects').set('Authorization', auth(account)).set('Idempotency-Key', 'retry-audit-1').send(body).expect(200);

    const events = await vault.vault.db('audit_events').where({ request_id: retry.headers['x-request-id'] }).orderBy('seq');
    const madeUp = events[0].subject_id;
    expect(events.map((e) => [e.action, e.outcome, e.reason, e.subject_id])).toEqual([
      ['subjects.create', 'allowed', null, madeUp],
      ['subjects.replay', 'allowed', null, first.body.id],
      ['subjects.create', 'denied', 'not_done:idempotent_replay', madeUp],
    ]);
    expect(madeUp).not.toBe(first.body.id);
    expect(await vault.vault.db('subjects').where({ id: madeUp })).toEqual([]);
    // The subject's own log tells its creation from the retry's answer.
    const log = await vault.get(`/v1/subjects/${first.body.id}/export`).set('Authorization', auth(account)).expect(200);
    const made = (log.body.access_log as Array<{ action: string }>).map((entry) => entry.action).filter((action) => action.startsWith('subjects.'));
    expect(made).toEqual(expect.arrayContaining(['subjects.create', 'subjects.replay']));
  });

  it('records the second of two erasures at once as not done: the first took the subject', async () => {
    const { id } = await createSubject(vault, account, { email: 'erased.twice@example.com' });
    // Both decide, then queue on the subject's row; the one that gets it second finds nothing.
    const lock = await holdRowLocks(vault.database.url, 'select 1 from subjects where id = $1 for update', [id]);
    const both = [0, 1].map(() => vault.delete(`/v1/subjects/${id}`).set('Authorization', auth(account)).then((r) => r));
    await lock.waitForWaiters(2);
    await lock.release();
    const answers = await Promise.all(both);

    expect(answers.map((r) => r.status).sort()).toEqual([204, 404]);
    const late = answers.find((r) => r.status === 404)!;
    expect(await eventsOf(late)).toEqual([
      ['subjects.erase', 'allowed', null],
      ['subjects.erase', 'denied', 'not_done:subject_not_found'],
    ]);
  });

  it('records a card removal that found the card gone meanwhile as not done', async () => {
    const { id } = await createSubject(vault, account, { email: 'card.race@example.com' });
    const card = { number: '4242424242424242', exp_month: 12, exp_year: new Date().getUTCFullYear() + 2, holder_name: 'Card Race' };
    const token = (await vault.post(`/v1/subjects/${id}/payment-methods`).set('Authorization', auth(account)).send(card).expect(201)).body.token;
    // Another session removes the card and holds its transaction open: this delete's lookup still
    // sees the card, decides, then waits on the row; the other removal commits first.
    const removal = await holdRowLocks(vault.database.url, 'delete from payment_methods where token = $1', [token]);
    const pending = vault.delete(`/v1/payment-methods/${token}`).set('Authorization', auth(account)).then((r) => r);
    await removal.waitForWaiters(1);
    await removal.release();
    const res = await pending;

    expect([res.status, res.body.code]).toEqual([404, 'payment_method_not_found']);
    expect(await eventsOf(res)).toEqual([
      ['payment_methods.delete', 'allowed', null],
      ['payment_methods.delete', 'denied', 'not_done:payment_method_not_found'],
    ]);
  });
});

describe('a disclosure allowed, that then found its subject erased', () => {
  // The erasure commits after the disclosure's decision is in the trail, as it begins to open values.
  async function eraseAtFirstOpening(id: string) {
    const keys = vault.vault.keys;
    const open = keys.open.bind(keys);
    let erased: Promise<unknown> | undefined;
    const spy = jest.spyOn(keys, 'open').mockImplementation(async (...args) => {
      erased ??= vault.delete(`/v1/subjects/${id}`).set('Authorization', auth(account)).expect(204);
      await erased;
      return open(...args);
    });
    return { restore: () => spy.mockRestore() };
  }

  it.each([
    ['a read', 'subjects.read', 'subject_not_found', (id: string) => vault.get(`/v1/subjects/${id}`).set('Authorization', auth(account))],
    ['an export', 'subjects.export', 'subject_not_found', (id: string) => vault.get(`/v1/subjects/${id}/export`).set('Authorization', auth(account))],
  ])('is followed in the trail by not_done for %s', async (_name, action, code, request) => {
    const { id } = await createSubject(vault, account, { email: 'erased.while.read@example.com', name: 'Erased Meanwhile' });
    const erasing = await eraseAtFirstOpening(id);
    const res = await Promise.resolve(request(id)).finally(() => erasing.restore());

    expect([res.status, res.body.code]).toEqual([404, code]);
    const events = (await eventsOf(res)).filter(([a]) => a === action);
    expect(events).toEqual([
      [action, 'allowed', null],
      [action, 'denied', `not_done:${code}`],
    ]);
  });

  it('is followed in the trail by not_done for a card reveal', async () => {
    const processor = await callerWith(vault, { scopes: ['payment_methods:reveal'], purposes: ['payment_processing'] }, 'payment_methods:reveal', 'payment_processing');
    const { id } = await createSubject(vault, account, { email: 'card.erased.while.revealed@example.com' });
    const card = { number: '4242424242424242', exp_month: 12, exp_year: new Date().getUTCFullYear() + 2, holder_name: 'Reveal Race' };
    const token = (await vault.post(`/v1/subjects/${id}/payment-methods`).set('Authorization', auth(account)).send(card).expect(201)).body.token;
    const erasing = await eraseAtFirstOpening(id);
    const res = await Promise.resolve(vault.post(`/v1/payment-methods/${token}/reveal`).set('Authorization', auth(processor))).finally(() => erasing.restore());

    expect([res.status, res.body.code]).toEqual([404, 'payment_method_not_found']);
    expect(await eventsOf(res)).toEqual([
      ['payment_methods.reveal', 'allowed', null],
      ['payment_methods.reveal', 'denied', 'not_done:payment_method_not_found'],
    ]);
  });
});

describe('an email resolution allowed for a subject with no address on file', () => {
  it('is followed in the trail by not_done:email_not_on_file, alone or in a batch, and the subject with an address is not', async () => {
    const mail = await mailer(vault, 'transactional_email');
    const { id: without } = await createSubject(vault, account, { name: 'No Address' });

    const one = await vault.get(`/v1/subjects/${without}/email`).set('Authorization', auth(mail)).expect(404);
    expect(one.body.code).toBe('email_not_on_file');
    expect(await eventsOf(one)).toEqual([
      ['emails.resolve', 'allowed', null],
      ['emails.resolve', 'denied', 'not_done:email_not_on_file'],
    ]);

    const batch = await vault.post('/v1/emails/resolve').set('Authorization', auth(mail)).send({ subject_ids: [subjectId, without] }).expect(200);
    expect(batch.body.results).toEqual([{ subject_id: subjectId, email: SAMPLE.email }, { subject_id: without, error: 'email_not_on_file' }]);
    const events = await vault.vault.db('audit_events').where({ request_id: batch.headers['x-request-id'] }).orderBy('seq');
    expect(events.map((e) => [e.subject_id, e.outcome, e.reason])).toEqual([
      [subjectId, 'allowed', null],
      [without, 'allowed', null],
      [without, 'denied', 'not_done:email_not_on_file'],
    ]);
  });
});
