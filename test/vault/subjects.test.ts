import { startTestVault, type TestVault } from '../support/test-vault';
import { dataCaller } from '../policy/support/principals';
import { accountService, auth, contractor, createSubject, SAMPLE, type Caller } from './support/data-callers';

let vault: TestVault;
let account: Caller;
beforeAll(async () => {
  vault = await startTestVault();
  account = await accountService(vault);
});
afterAll(() => vault.stop());

const countSubjects = async () => Number((await vault.vault.db('subjects').count({ n: '*' }))[0]!.n);

describe('creating a subject', () => {
  it('is refused with 403 pseudonymous_purpose to a purpose that knows subjects only by pseudonym, and stores nothing', async () => {
    // Its answer and Location would name the subject by id, which such a purpose never learns.
    const analytics = await dataCaller(vault, 'subjects:write', 'analytics');
    const before = await countSubjects();
    const res = await vault.post('/v1/subjects').set('Authorization', auth(analytics)).send({}).expect(403);
    expect(res.body.code).toBe('pseudonymous_purpose');
    expect(res.headers.location).toBeUndefined();
    // The same reason whatever fields it would have written (analytics sees no name).
    const named = await vault.post('/v1/subjects').set('Authorization', auth(analytics)).send({ name: 'Cy Dee' }).expect(403);
    expect(named.body.code).toBe('pseudonymous_purpose');
    expect(await countSubjects()).toBe(before);
  });

  it('answers 201 with the subject, its ETag and Location, and stores every personal field sealed', async () => {
    const res = await vault.post('/v1/subjects').set('Authorization', auth(account)).send({ ...SAMPLE, external_id: 'acct-1' }).expect(201);
    expect(res.body).toMatchObject({ ...SAMPLE, external_id: 'acct-1', version: 1, id: expect.stringMatching(/^sub_/) });
    expect(res.headers.etag).toBe('"1"');
    expect(res.headers.location).toBe(`/v1/subjects/${res.body.id}`);

    const row = await vault.vault.db('subjects').where({ id: res.body.id }).first();
    for (const field of ['email', 'name', 'phone', 'postal_address', 'birth_date']) {
      expect(Buffer.isBuffer(row[field])).toBe(true);
      expect(row[field].toString('latin1')).not.toContain(field === 'postal_address' ? 'Downing' : String((SAMPLE as Record<string, unknown>)[field]));
    }
    expect(await vault.vault.db('subject_keys').where({ subject_id: res.body.id }).first()).toBeDefined();
  });

  it('refuses a subject under 13 with 422 subject_under_minimum_age and stores nothing', async () => {
    const before = await countSubjects();
    const birth = new Date();
    birth.setUTCFullYear(birth.getUTCFullYear() - 12);
    const res = await vault.post('/v1/subjects').set('Authorization', auth(account)).send({ ...SAMPLE, birth_date: birth.toISOString().slice(0, 10) }).expect(422);
    expect(res.body.code).toBe('subject_under_minimum_age');
    expect(await countSubjects()).toBe(before);
  });

  it.each([
    ['an unknown property', { ...SAMPLE, nickname: 'x' }, 'validation_failed', '/nickname'],
    ['a read-only property', { ...SAMPLE, id: 'sub_AAAAAAAAAAAAAAAAAAAAAA' }, 'read_only_property', '/id'],
    ['a phone that is not E.164', { ...SAMPLE, phone: '020 7183 8750' }, 'validation_failed', '/phone'],
    ['a number where a string belongs', { ...SAMPLE, name: 12345 }, 'validation_failed', '/name'],
    ['an unknown country', { ...SAMPLE, postal_address: { ...SAMPLE.postal_address, country: 'XX' } }, 'validation_failed', '/postal_address/country'],
  ])('refuses %s with a pointer at the field and stores nothing', async (_label, body, code, pointer) => {
    const before = await countSubjects();
    const res = await vault.post('/v1/subjects').set('Authorization', auth(account)).send(body).expect(422);
    expect(res.body.code).toBe(code);
    expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toContain(pointer);
    expect(await countSubjects()).toBe(before);
  });

  it.each([
    ['on its own', {}],
    ['with preferences, in a transaction', { preferences: { newsletter: true } }],
  ])('refuses an external_id another subject holds with 409, and stores neither subject nor key (%s)', async (how, extra) => {
    await vault.post('/v1/subjects').set('Authorization', auth(account)).send({ ...SAMPLE, external_id: `acct-taken-${how.length}` }).expect(201);
    const subjects = await countSubjects();
    const keys = Number((await vault.vault.db('subject_keys').count({ n: '*' }))[0]!.n);
    const res = await vault.post('/v1/subjects').set('Authorization', auth(account)).send({ ...SAMPLE, ...extra, external_id: `acct-taken-${how.length}` }).expect(409);
    expect(res.body).toMatchObject({ code: 'external_id_taken', errors: [{ pointer: '/external_id' }] });
    expect(await countSubjects()).toBe(subjects);
    expect(Number((await vault.vault.db('subject_keys').count({ n: '*' }))[0]!.n)).toBe(keys);
  });

  it('answers a retried Idempotency-Key with the same subject and refuses the key for another body', async () => {
    const first = await vault.post('/v1/subjects').set('Authorization', auth(account)).set('Idempotency-Key', 'retry-1').send(SAMPLE).expect(201);
    const again = await vault.post('/v1/subjects').set('Authorization', auth(account)).set('Idempotency-Key', 'retry-1').send(SAMPLE).expect(200);
    expect(again.body.id).toBe(first.body.id);
    const other = await vault.post('/v1/subjects').set('Authorization', auth(account)).set('Idempotency-Key', 'retry-1').send({ ...SAMPLE, name: 'Someone Else' }).expect(422);
    expect(other.body.code).toBe('idempotency_key_reused');
  });

  it('creates one subject from ten concurrent requests with one Idempotency-Key', async () => {
    const before = await countSubjects();
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => vault.post('/v1/subjects').set('Authorization', auth(account)).set('Idempotency-Key', 'burst-1').send(SAMPLE)),
    );
    expect(new Set(responses.map((r) => r.body.id)).size).toBe(1);
    expect(responses.filter((r) => r.status === 201)).toHaveLength(1);
    expect(responses.every((r) => r.status === 201 || r.status === 200)).toBe(true);
    expect(await countSubjects()).toBe(before + 1);
  });

  it('refuses a token without subjects:write', async () => {
    const reader = await contractor(vault, 'shipping');
    const res = await vault.post('/v1/subjects').set('Authorization', auth(reader)).send(SAMPLE).expect(403);
    expect(res.body.code).toBe('insufficient_scope');
  });
});

describe('reading a subject through each purpose', () => {
  let id: string;
  beforeAll(async () => {
    ({ id } = await createSubject(vault, account, SAMPLE));
  });

  it('shows the account service every field in plain', async () => {
    const res = await vault.get(`/v1/subjects/${id}`).set('Authorization', auth(account)).expect(200);
    expect(res.body).toMatchObject(SAMPLE);
  });

  it('shows a shipping contractor the name and postal address and nothing else', async () => {
    const res = await vault.get(`/v1/subjects/${id}`).set('Authorization', auth(await contractor(vault, 'shipping'))).expect(200);
    expect(res.body).toMatchObject({ id, name: SAMPLE.name, postal_address: SAMPLE.postal_address });
    for (const hidden of ['email', 'phone', 'birth_date']) expect(res.body[hidden]).toBeUndefined();
  });

  it('shows customer support masked contact details', async () => {
    const res = await vault.get(`/v1/subjects/${id}`).set('Authorization', auth(await contractor(vault, 'customer_support'))).expect(200);
    expect(res.body.email).toBe('j***@example.com');
    expect(res.body.phone).toMatch(/^\+44 .*50$/);
    expect(res.body.phone).not.toContain('2071838');
    expect(res.body.postal_address).toEqual({ country: 'GB', postal_code_prefix: 'SW1' });
    expect(res.body.name).toBe(SAMPLE.name);
  });

  it('shows analytics a pseudonym and the country only', async () => {
    const res = await vault.get(`/v1/subjects/${id}`).set('Authorization', auth(await contractor(vault, 'analytics'))).expect(200);
    expect(res.body.id).toBeUndefined();
    expect(res.body.pseudonym).toMatch(/^psn_/);
    expect(res.body.country).toBe('GB');
    for (const hidden of ['email', 'name', 'phone', 'postal_address', 'birth_date', 'external_id']) expect(res.body[hidden]).toBeUndefined();
    // Times only to the day: to the millisecond they would tie the pseudonym back to the account.
    expect(res.body.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T00:00:00\.000Z$/);
    expect(res.body.updated_at).toMatch(/^\d{4}-\d{2}-\d{2}T00:00:00\.000Z$/);
    const again = await vault.get(`/v1/subjects/${id}`).set('Authorization', auth(await contractor(vault, 'analytics'))).expect(200);
    expect(again.body.pseudonym).toBe(res.body.pseudonym);
  });

  it('answers an unknown id with 404 after deciding, and a malformed id the same way', async () => {
    for (const unknown of ['sub_AAAAAAAAAAAAAAAAAAAAAA', 'not-an-id', "sub_' or 1=1--"]) {
      const res = await vault.get(`/v1/subjects/${encodeURIComponent(unknown)}`).set('Authorization', auth(account)).expect(404);
      expect(res.body.code).toBe('subject_not_found');
      // Audited as a lookup that disclosed nothing, with the id asked for when it is one (never the caller's other text).
      const events = await vault.vault.db('audit_events').where({ request_id: res.headers['x-request-id'] });
      expect(events.map((e) => [e.action, e.outcome, e.reason, e.subject_id, e.fields])).toEqual([
        ['subjects.read', 'allowed', 'not_found', unknown.startsWith('sub_A') ? unknown : null, {}],
      ]);
    }
  });

  it('refuses a purpose the client was not granted', async () => {
    const res = await vault.get(`/v1/subjects/${id}`).set('Authorization', auth(await contractor(vault, 'legal_disclosure'))).expect(403);
    expect(res.body.code).toBe('approval_required');
    expect(res.body.detail).toMatch(/^The purpose legal_disclosure discloses a subject only under an approval .* POST \/v1\/admin\/approvals/);
  });

  it('says no approval allows a search to a purpose that discloses only under one', async () => {
    const res = await vault.post('/v1/subjects/search').set('Authorization', auth(await dataCaller(vault, 'subjects:search', 'legal_disclosure', 'contractor'))).send({ email: SAMPLE.email }).expect(403);
    expect(res.body).toMatchObject({ code: 'approval_required', detail: 'An approval is for a disclosure about one subject; subjects.search is none, and no approval allows it to the purpose legal_disclosure' });
  });
});

describe('updating a subject', () => {
  it('needs If-Match (428), refuses a stale ETag (412), and removes a field set to null', async () => {
    const { id, etag } = await createSubject(vault, account);
    const missing = await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(account)).send({ name: 'New' }).expect(428);
    expect(missing.body.code).toBe('precondition_required');
    const ok = await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('If-Match', etag).send({ name: 'New Name', phone: null }).expect(200);
    expect(ok.body).toMatchObject({ name: 'New Name', version: 2 });
    expect(ok.body.phone).toBeUndefined();
    expect(ok.headers.etag).toBe('"2"');
    const stale = await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('If-Match', etag).send({ name: 'Lost' }).expect(412);
    expect(stale.body.code).toBe('precondition_failed');
    expect(stale.headers.etag).toBe('"2"');
  });

  it('answers a patch that changes nothing with the version it names, so the ETags other writers hold stay good', async () => {
    const { id, etag } = await createSubject(vault, account, { email: 'same.again@example.com', external_id: 'acct-1007', preferences: { newsletter: false } });
    for (const patch of [{ preferences: { newsletter: false } }, { external_id: 'acct-1007' }, { phone: null }, { birth_date: null, preferences: { newsletter: false } }]) {
      const res = await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('If-Match', etag).send(patch).expect(200);
      expect([patch, res.headers.etag, res.body.version]).toEqual([patch, etag, 1]);
    }
    const row = await vault.vault.db('subjects').where({ id }).first();
    expect([row.version, await vault.vault.db('consent_history').where({ subject_id: id }).count('* as n').first()]).toEqual([1, { n: '1' }]);
    // A change among them is a new version.
    const changed = await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('If-Match', etag).send({ phone: null, preferences: { newsletter: true } }).expect(200);
    expect(changed.headers.etag).toBe('"2"');
  });

  it('refuses If-Match: * (a blind write) with 428 and changes nothing', async () => {
    const { id } = await createSubject(vault, account);
    const res = await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('If-Match', '*').send({ name: 'Blind' }).expect(428);
    expect(res.body.code).toBe('precondition_required');
    expect(res.body.detail).toMatch(/names no version/);
    const row = await vault.vault.db('subjects').where({ id }).first();
    expect(Number(row.version)).toBe(1);
    const after = await vault.get(`/v1/subjects/${id}`).set('Authorization', auth(account)).expect(200);
    expect(after.body.name).toBe(SAMPLE.name);
  });

  it.each(['1', '"1', '"1" "2"', '"1", 1', 'W/1'])('refuses a malformed If-Match %j with 400 invalid_if_match, not as a stale tag, and changes nothing', async (ifMatch) => {
    const { id } = await createSubject(vault, account);
    const res = await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('If-Match', ifMatch).send({ name: 'Unquoted' }).expect(400);
    expect(res.body.code).toBe('invalid_if_match');
    expect(res.body.title).toMatch(/double quotes/);
    const row = await vault.vault.db('subjects').where({ id }).first();
    expect(Number(row.version)).toBe(1);
  });

  it('answers a weak tag of the current version with 412, saying a weak tag never matches, and changes nothing', async () => {
    const { id } = await createSubject(vault, account);
    const res = await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('If-Match', 'W/"1"').send({ name: 'Weak' }).expect(412);
    expect(res.body.detail).toMatch(/weak entity tag/);
    expect(res.headers.etag).toBe('"1"');
    expect(Number((await vault.vault.db('subjects').where({ id }).first()).version)).toBe(1);
  });

  it('takes a list of quoted tags and applies the change when one is current', async () => {
    const { id } = await createSubject(vault, account);
    await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('If-Match', 'W/"1", "7", "1"').send({ name: 'Listed' }).expect(200);
  });

  it('ignores empty elements of the If-Match list, as RFC 9110 asks, and still refuses a list of nothing', async () => {
    const { id } = await createSubject(vault, account);
    await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('If-Match', '"1",').send({ name: 'Trailing Comma' }).expect(200);
    await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('If-Match', ', "9",,"2"').send({ name: 'Empty Elements' }).expect(200);
    const none = await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('If-Match', ' , ,').send({ name: 'Nothing Listed' });
    expect([none.status, none.body.code]).toEqual([400, 'invalid_if_match']);
    expect(await vault.vault.db('subjects').where({ id }).first()).toMatchObject({ version: 3 });
  });

  it('lets 20 concurrent writers each land exactly once, never mixing their fields', async () => {
    const { id } = await createSubject(vault, account);
    const writer = async (n: number) => {
      const name = `Writer ${n}`;
      const phone = `+4420718387${String(10 + n)}`;
      for (let attempt = 0; attempt < 100; attempt++) {
        const current = await vault.get(`/v1/subjects/${id}`).set('Authorization', auth(account)).expect(200);
        const res = await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('If-Match', current.headers.etag).send({ name, phone });
        if (res.status === 200) return res.body.version as number;
        expect(res.status).toBe(412);
      }
      throw new Error(`writer ${n} never landed`);
    };
    const versions = await Promise.all(Array.from({ length: 20 }, (_, n) => writer(n)));
    expect(new Set(versions).size).toBe(20);
    const final = await vault.get(`/v1/subjects/${id}`).set('Authorization', auth(account)).expect(200);
    expect(final.body.version).toBe(21);
    const n = Number(final.body.name.replace('Writer ', ''));
    expect(final.body.phone).toBe(`+4420718387${String(10 + n)}`);
    expect(versions).toContain(21);
  });

  it('refuses an empty patch and a read-only property', async () => {
    const { id, etag } = await createSubject(vault, account);
    expect((await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('If-Match', etag).send({}).expect(422)).body.code).toBe('validation_failed');
    expect((await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('If-Match', etag).send({ version: 7 }).expect(422)).body.code).toBe('read_only_property');
  });
});

describe('search', () => {
  it('finds a subject by email whatever the case or the form of its domain', async () => {
    const { id } = await createSubject(vault, account, { email: 'Zoë@Bücher.example', name: 'Zoë' });
    for (const query of ['zoë@bücher.example', 'ZOË@xn--bcher-kva.example']) {
      const res = await vault.post('/v1/subjects/search').set('Authorization', auth(account)).send({ email: query }).expect(200);
      expect(res.body.subjects).toEqual([{ id }]);
    }
  });

  it('finds a Greek address whatever the case, the final sigma included', async () => {
    const { id } = await createSubject(vault, account, { email: 'ΟΔΥΣΣΕΑΣ@example.com' });
    // Lower-cased, the last Σ becomes the final ς (it ends a word); typed in lower case, σ is as likely.
    for (const query of ['οδυσσεας@example.com', 'οδυσσεασ@example.com', 'ΟΔΥΣΣΕΑΣ@EXAMPLE.COM']) {
      const res = await vault.post('/v1/subjects/search').set('Authorization', auth(account)).send({ email: query }).expect(200);
      expect(res.body.subjects).toEqual([{ id }]);
    }
  });

  it('answers an unknown address with no subjects, and refuses a token without subjects:search', async () => {
    const res = await vault.post('/v1/subjects/search').set('Authorization', auth(account)).send({ email: 'nobody@example.com' }).expect(200);
    expect(res.body.subjects).toEqual([]);
    const other = await contractor(vault, 'shipping');
    expect((await vault.post('/v1/subjects/search').set('Authorization', auth(other)).send({ email: 'x@example.com' }).expect(403)).body.code).toBe('insufficient_scope');
  });

  it('answers the first 20 subjects with an address by creation, and past those its purpose may not see, the next ones', async () => {
    const email = 'shared.household@example.com';
    // 21 unsubscribed from the newsletter, then 2 subscribed, then 20 more subscribed.
    const created: Array<{ id: string; newsletter: boolean }> = [];
    for (const newsletter of [...Array<boolean>(21).fill(false), ...Array<boolean>(22).fill(true)]) {
      created.push({ id: (await createSubject(vault, account, { email, preferences: { newsletter } })).id, newsletter });
    }
    const newsletterSearch = await dataCaller(vault, 'subjects:search', 'newsletter');

    const all = await vault.post('/v1/subjects/search').set('Authorization', auth(account)).send({ email }).expect(200);
    const subscribed = await vault.post('/v1/subjects/search').set('Authorization', auth(newsletterSearch)).send({ email }).expect(200);

    expect(all.body.subjects).toEqual(created.slice(0, 20).map(({ id }) => ({ id })));
    expect(subscribed.body.subjects).toEqual(created.filter((subject) => subject.newsletter).slice(0, 20).map(({ id }) => ({ id })));
    // Every subject looked at is in the trail, found or left out; none past the twentieth found.
    const events = await vault.vault.db('audit_events').where({ request_id: subscribed.headers['x-request-id'] }).select('outcome', 'reason', 'subject_id');
    expect(events.filter((event) => event.outcome === 'allowed').map((event) => event.subject_id).sort()).toEqual(subscribed.body.subjects.map((subject: { id: string }) => subject.id).sort());
    const refused = events.filter((event) => event.outcome === 'denied');
    expect(refused.map((event) => event.subject_id).sort()).toEqual(created.slice(0, 21).map(({ id }) => id).sort());
    expect(new Set(refused.map((event) => event.reason))).toEqual(new Set(['subject_opted_out']));
  });

  it('records the subject it found in the trail, so the subject\'s access log shows it; a search finding none is recorded as such', async () => {
    const { id } = await createSubject(vault, account, { email: 'searched.for@example.com' });
    const found = await vault.post('/v1/subjects/search').set('Authorization', auth(account)).send({ email: 'searched.for@example.com' }).expect(200);
    const none = await vault.post('/v1/subjects/search').set('Authorization', auth(account)).send({ email: 'searched.nobody@example.com' }).expect(200);

    const eventsOf = async (res: { headers: Record<string, string> }) =>
      (await vault.vault.db('audit_events').where({ request_id: res.headers['x-request-id'] })).map((e) => [e.action, e.outcome, e.reason, e.subject_id, e.fields]);
    expect(await eventsOf(found)).toEqual([['subjects.search', 'allowed', null, id, { email: 'plain' }]]);
    expect(await eventsOf(none)).toEqual([['subjects.search', 'allowed', 'not_found', null, {}]]);
    expect(JSON.stringify(await vault.vault.db('audit_events').where({ request_id: none.headers['x-request-id'] }))).not.toContain('searched.nobody');
  });
});

describe('conditional reads', () => {
  it('answers a GET with If-None-Match naming the current ETag in full, never 304: nothing is stored by the client to stand for', async () => {
    const { id, etag } = await createSubject(vault, account);
    const subject = await vault.get(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('If-None-Match', etag).expect(200);
    expect(subject.body.id).toBe(id);
    const preferences = await vault.get(`/v1/subjects/${id}/preferences`).set('Authorization', auth(account)).set('If-None-Match', etag).set('If-Modified-Since', new Date().toUTCString()).expect(200);
    expect(preferences.body.subject_id).toBe(id);
  });
});

describe('preferences', () => {
  it('answers a change with the subject\'s new ETag, which a following PATCH may use', async () => {
    const { id, etag } = await createSubject(vault, account);
    const read = await vault.get(`/v1/subjects/${id}/preferences`).set('Authorization', auth(account)).expect(200);
    expect(read.headers.etag).toBe(etag);

    const changed = await vault.put(`/v1/subjects/${id}/preferences`).set('Authorization', auth(account)).send({ surveys: false }).expect(200);
    expect(changed.headers.etag).toBe('"2"');
    // The same choice again changes nothing, and says so with the same ETag.
    const again = await vault.put(`/v1/subjects/${id}/preferences`).set('Authorization', auth(account)).send({ surveys: false }).expect(200);
    expect(again.headers.etag).toBe('"2"');
    await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('If-Match', changed.headers.etag).send({ name: 'After Surveys' }).expect(200);
  });

  it('refuses transactional messages under either name and either value, and records nothing', async () => {
    const { id } = await createSubject(vault, account);
    for (const body of [{ transactional_email: false }, { transactional_email: true }, { transactional: false }, { newsletter: true, transactional_email: false }]) {
      const res = await vault.put(`/v1/subjects/${id}/preferences`).set('Authorization', auth(account)).send(body);
      const name = Object.keys(body).find((key) => key.startsWith('transactional'));
      expect([res.status, res.body.code, res.body.errors]).toEqual([422, 'transactional_cannot_be_disabled', [{ pointer: `/${name}`, detail: expect.stringContaining('leave this property out') }]]);
    }
    const created = await vault.post('/v1/subjects').set('Authorization', auth(account)).send({ email: 'tx.name@example.com', preferences: { transactional_email: false } });
    expect([created.status, created.body.code, created.body.errors[0].pointer]).toEqual([422, 'transactional_cannot_be_disabled', '/preferences/transactional_email']);
    expect(await vault.vault.db('subjects').where({ id }).first()).toMatchObject({ version: 1 });
    expect(await vault.vault.db('consent_history').where({ subject_id: id })).toEqual([]);
  });
});

describe('If-Match on an erasure or a consent change (optional, honoured when sent)', () => {
  const consentOf = async (id: string) => vault.vault.db('consent_history').where({ subject_id: id });

  it('refuses an erasure naming an old ETag with 412 and the current one, and erases nothing; the current ETag or * erase', async () => {
    const { id, etag } = await createSubject(vault, account);
    await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('If-Match', etag).send({ name: 'Changed Since' }).expect(200);
    const stale = await vault.delete(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('If-Match', etag).expect(412);
    expect([stale.body.code, stale.headers.etag]).toEqual(['precondition_failed', '"2"']);
    await vault.get(`/v1/subjects/${id}`).set('Authorization', auth(account)).expect(200);
    expect(await vault.vault.db('subject_keys').where({ subject_id: id }).first()).toBeDefined();

    await vault.delete(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('If-Match', '"2"').expect(204);
    await vault.get(`/v1/subjects/${id}`).set('Authorization', auth(account)).expect(404);
    const other = await createSubject(vault, account);
    await vault.delete(`/v1/subjects/${other.id}`).set('Authorization', auth(account)).set('If-Match', '*').expect(204);
  });

  it('refuses a malformed If-Match on an erasure with 400 invalid_if_match, and erases nothing', async () => {
    const { id } = await createSubject(vault, account);
    const res = await vault.delete(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('If-Match', '1').expect(400);
    expect(res.body.code).toBe('invalid_if_match');
    await vault.get(`/v1/subjects/${id}`).set('Authorization', auth(account)).expect(200);
  });

  it('refuses a consent change naming an old ETag with 412, recording no change and no history; the current ETag changes it', async () => {
    const { id, etag } = await createSubject(vault, account);
    await vault.patch(`/v1/subjects/${id}`).set('Authorization', auth(account)).set('If-Match', etag).send({ name: 'Changed Since' }).expect(200);
    const subscribed = (await vault.get(`/v1/subjects/${id}/preferences`).set('Authorization', auth(account)).expect(200)).body.preferences.newsletter;
    const stale = await vault.put(`/v1/subjects/${id}/preferences`).set('Authorization', auth(account)).set('If-Match', etag).send({ newsletter: !subscribed }).expect(412);
    expect([stale.body.code, stale.headers.etag]).toEqual(['precondition_failed', '"2"']);
    expect(await consentOf(id)).toEqual([]);
    const read = await vault.get(`/v1/subjects/${id}/preferences`).set('Authorization', auth(account)).expect(200);
    expect([read.body.preferences.newsletter, read.headers.etag]).toEqual([subscribed, '"2"']);

    const changed = await vault.put(`/v1/subjects/${id}/preferences`).set('Authorization', auth(account)).set('If-Match', '"2"').send({ newsletter: !subscribed }).expect(200);
    expect([changed.body.preferences.newsletter, changed.headers.etag]).toEqual([!subscribed, '"3"']);
    expect(await consentOf(id)).toHaveLength(1);
  });
});
