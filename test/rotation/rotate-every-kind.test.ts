import fs from 'node:fs';
import path from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { startTestVault, type TestVault } from '../support/test-vault';
import { adminCaller, registeredThrough, type Caller } from '../policy/support/principals';
import { accountService, bearer, keyAdmin, paymentProcessor, readWhile, subjectBody, VISA, waitForJob } from './support/rotation-helpers';

jest.setTimeout(120_000);

describe('online key rotation through the admin API', () => {
  let vault: TestVault;
  let admin: Caller;
  let account: Caller;
  let processor: Caller;
  const cards: Array<{ subjectId: string; token: string }> = [];
  const subjects: Array<{ id: string; email: string }> = [];

  beforeAll(async () => {
    vault = await startTestVault({ PDVAULT_ROTATION_BATCH_SIZE: '7', PDVAULT_ROTATION_POLL_MS: '100', PDVAULT_BLIND_INDEX_RETIRE_GRACE_MS: '0' });
    admin = await keyAdmin(vault);
    account = await accountService(vault);
    for (let n = 0; n < 40; n++) {
      const body = subjectBody(n);
      const res = await vault.post('/v1/subjects').set('Authorization', bearer(account)).send(body).expect(201);
      subjects.push({ id: res.body.id, email: body.email });
    }
    processor = await paymentProcessor(vault);
    for (const subject of subjects.slice(8, 12)) {
      const res = await vault.post(`/v1/subjects/${subject.id}/payment-methods`).set('Authorization', bearer(account)).send(VISA).expect(201);
      cards.push({ subjectId: subject.id, token: res.body.token });
    }
  });

  // Reads run through every rotation below; the last test checks that none failed.
  let background: ReturnType<typeof readWhile> | undefined;
  beforeAll(() => {
    background = readWhile(vault, account, subjects);
  });
  afterAll(() => background?.stop());

  const reveal = async (token: string) => (await vault.post(`/v1/payment-methods/${token}/reveal`).set('Authorization', bearer(processor)).expect(200)).body;
  afterAll(() => vault?.stop());

  const inventory = async () => (await vault.get('/v1/admin/keys').set('Authorization', bearer(admin)).expect(200)).body;
  const rotate = (body: Record<string, unknown>) => vault.post('/v1/admin/keys/rotations').set('Authorization', bearer(admin)).send(body);

  it('lists every key level without key material', async () => {
    const keys = await inventory();
    expect(keys.kek_generations).toEqual([expect.objectContaining({ id: 1, status: 'active', subject_keys: 40 })]);
    expect(keys.signing_keys[0]).toEqual(expect.objectContaining({ status: 'active', tokens_alive_until: null, published: true }));
    expect(keys.blind_index_keys).toEqual([expect.objectContaining({ version: 1, status: 'active' })]);
    expect(keys.kms_keys).toEqual([{ key_ref: 'local:v1', current: true, kek_generations: 1 }]);
    expect(JSON.stringify(keys)).not.toMatch(/wrapped|sealed|private|"d":/);
  });

  it('re-wraps every subject key under a new KEK generation while reads keep succeeding, then retires the old one', async () => {
    const reads = readWhile(vault, account, subjects);
    const started = await rotate({ kind: 'kek' }).expect(202);
    expect(started.headers.location).toBe(`/v1/admin/jobs/${started.body.job_id}`);
    const job = await waitForJob(vault, admin, started.body.job_id);
    const { failures } = await reads.stop();
    expect(failures).toEqual([]);
    expect(job).toEqual(expect.objectContaining({ state: 'succeeded', done: 40, total: 40, errors: [] }));
    const keys = await inventory();
    expect(keys.kek_generations.map((g: { id: number; status: string; subject_keys: number; vault_secrets: number }) => [g.id, g.status, g.subject_keys, g.vault_secrets])).toEqual([
      [1, 'retired', 0, 0],
      [2, 'active', 40, expect.any(Number)],
    ]);
    // A new subject after the rotation is wrapped by the new generation.
    await vault.post('/v1/subjects').set('Authorization', bearer(account)).send(subjectBody(1000)).expect(201);
    expect((await inventory()).kek_generations[1].subject_keys).toBe(41);
  });

  it('refuses to destroy a generation still in use, and needs a second admin to destroy a retired one', async () => {
    await vault.post('/v1/admin/keys/kek-generations/2/destruction').set('Authorization', bearer(admin)).expect(409).expect((res) => expect(res.body.code).toBe('kek_generation_not_retired'));
    const requester = await adminCaller(vault, ['admin:clients', 'admin:keys']);
    await vault.post('/v1/admin/keys/kek-generations/1/destruction').set('Authorization', bearer(requester)).expect(202);
    await vault.post('/v1/admin/keys/kek-generations/1/destruction/approve').set('Authorization', bearer(requester)).expect(403).expect((res) => expect(res.body.code).toBe('second_approver_required'));
    // A client the requester registered through the API is the requester with another id.
    const puppet = await registeredThrough(vault, requester, ['admin:keys']);
    const refused = await vault.post('/v1/admin/keys/kek-generations/1/destruction/approve').set('Authorization', bearer(puppet)).expect(403);
    expect(refused.body.title).toMatch(/not independent/);
    expect((await inventory()).kek_generations[0].status).toBe('retired');
    const second = await keyAdmin(vault);
    const destroyed = await vault.post('/v1/admin/keys/kek-generations/1/destruction/approve').set('Authorization', bearer(second)).expect(200);
    expect(destroyed.body).toEqual(expect.objectContaining({ state: 'destroyed', approved_by: second.credentials.clientId }));
    expect((await inventory()).kek_generations[0]).toEqual(expect.objectContaining({ id: 1, status: 'destroyed', kms_key_ref: null }));
    for (const subject of subjects.slice(0, 5)) {
      const res = await vault.get(`/v1/subjects/${subject.id}`).set('Authorization', bearer(account)).expect(200);
      expect(res.body.email).toBe(subject.email);
    }
  });

  it('refuses a second rotation of a kind while one runs, naming the running job', async () => {
    await vault.vault.rotation.runner.stop();
    const first = await rotate({ kind: 'kek' }).expect(202);
    const second = await rotate({ kind: 'kek' }).expect(409);
    expect(second.body.code).toBe('rotation_already_running');
    expect(second.body.detail).toBe(first.body.job_id);
    vault.vault.rotation.runner.start();
    await waitForJob(vault, admin, first.body.job_id);
  });

  it('moves every KEK generation to a new KMS key with nothing left under the old one; of four starts at once, only one answered 202 makes a key', async () => {
    // The local keyring makes a master-key version for each start that goes ahead, and none for one refused.
    const versions = () => Object.keys((JSON.parse(fs.readFileSync(path.join(vault.config.dataDir, 'keyring.json'), 'utf8')) as { keys: object }).keys).length;
    const before = versions();
    const answers = await Promise.all([1, 2, 3, 4].map(() => rotate({ kind: 'kms_key' })));
    const started = answers.filter((answer) => answer.status === 202);
    for (const answer of answers.filter((a) => a.status !== 202)) expect(answer.body).toMatchObject({ status: 409, code: 'rotation_already_running' });
    expect(started.length).toBeGreaterThanOrEqual(1);
    for (const answer of started) {
      const job = await waitForJob(vault, admin, answer.body.job_id);
      expect(job).toEqual(expect.objectContaining({ state: 'succeeded', done: job.total, errors: [] }));
    }
    expect(versions()).toBe(before + started.length);
    const keys = await inventory();
    expect(keys.kms_keys).toEqual([expect.objectContaining({ key_ref: `local:v${before + started.length}`, current: true })]);
    const res = await vault.get(`/v1/subjects/${subjects[3]!.id}`).set('Authorization', bearer(account)).expect(200);
    expect(res.body.email).toBe(subjects[3]!.email);
  });

  it('signs with a new key at once while tokens signed by the old one keep verifying', async () => {
    const before = (await inventory()).signing_keys[0].kid;
    const started = await rotate({ kind: 'signing' }).expect(202);
    expect((await waitForJob(vault, admin, started.body.job_id)).state).toBe('succeeded');
    // The account service's token was signed by the old key.
    expect(decodeProtectedHeader(account.token).kid).toBe(before);
    await vault.get(`/v1/subjects/${subjects[0]!.id}`).set('Authorization', bearer(account)).expect(200);
    const fresh = await accountService(vault);
    expect(decodeProtectedHeader(fresh.token).kid).not.toBe(before);
    const keys = await inventory();
    expect(keys.signing_keys.find((k: { kid: string }) => k.kid === before)).toEqual(expect.objectContaining({ status: 'retired', published: true, tokens_alive_until: expect.any(String) }));
    const jwks = await vault.get('/.well-known/jwks.json').expect(200);
    expect(jwks.body.keys.map((k: { kid: string }) => k.kid)).toContain(before);
  });

  it('re-indexes emails and card fingerprints under a new blind-index key while searches keep finding subjects', async () => {
    const started = await rotate({ kind: 'blind_index' }).expect(202);
    const search = await vault.post('/v1/subjects/search').set('Authorization', bearer(account)).send({ email: subjects[5]!.email }).expect(200);
    expect(JSON.stringify(search.body)).toContain(subjects[5]!.id);
    expect((await waitForJob(vault, admin, started.body.job_id)).state).toBe('succeeded');
    const after = await vault.post('/v1/subjects/search').set('Authorization', bearer(account)).send({ email: subjects[6]!.email }).expect(200);
    expect(JSON.stringify(after.body)).toContain(subjects[6]!.id);
    expect((await inventory()).blind_index_keys.map((k: { version: number; status: string }) => [k.version, k.status])).toEqual([
      [1, 'retired'],
      [2, 'active'],
    ]);
    const stale = await vault.vault.db('subjects').whereNotNull('email').andWhere('email_index_version', '<', 2).count('* as count').first();
    expect(Number(stale?.count)).toBe(0);
    const staleCards = await vault.vault.db('payment_methods').where('fingerprint_version', '<', 2).count('* as count').first();
    expect(Number(staleCards?.count)).toBe(0);
    // The re-computed fingerprint still recognises the same card for the same subject.
    const again = await vault.post(`/v1/subjects/${cards[0]!.subjectId}/payment-methods`).set('Authorization', bearer(account)).send(VISA).expect(200);
    expect(again.body.token).toBe(cards[0]!.token);
  });

  it('re-keys one subject: its fields read back the same and its old key is gone', async () => {
    const subject = subjects[9]!;
    const card = cards.find((c) => c.subjectId === subject.id)!;
    const cardBefore = await reveal(card.token);
    const before = await vault.get(`/v1/subjects/${subject.id}`).set('Authorization', bearer(account)).expect(200);
    const oldKey = await vault.vault.db('subject_keys').where({ subject_id: subject.id }).first();
    const started = await rotate({ kind: 'subject', subject_id: subject.id }).expect(202);
    expect((await waitForJob(vault, admin, started.body.job_id)).state).toBe('succeeded');
    const keysNow = await vault.vault.db('subject_keys').where({ subject_id: subject.id });
    expect(keysNow.map((k: { version: number }) => k.version)).toEqual([oldKey.version + 1]);
    const after = await vault.get(`/v1/subjects/${subject.id}`).set('Authorization', bearer(account)).expect(200);
    expect(after.body).toEqual(before.body);
    expect(await reveal(card.token)).toEqual(cardBefore);
    // Re-keyed, the subject's version (its ETag) is unchanged: its content did not change.
    expect(after.headers.etag).toBe(before.headers.etag);
  });

  it('answers 404 for a subject rotation of a subject that does not exist, and audits starts and ends', async () => {
    const refused = await rotate({ kind: 'subject', subject_id: 'sub_doesnotexist' }).expect(404);
    expect(refused.body.code).toBe('subject_not_found');
    const events = await vault.vault.db('audit_events').whereIn('action', ['keys.rotation.start', 'keys.rotation.finish']).select('action', 'outcome');
    const succeeded = await vault.vault.db('rotation_jobs').where({ state: 'succeeded' }).count('* as count').first();
    expect(events.filter((e: { action: string; outcome: string }) => e.action === 'keys.rotation.finish').length).toBe(Number(succeeded?.count));
    expect(Number(succeeded?.count)).toBe(6);
    expect(events).toContainEqual({ action: 'keys.rotation.start', outcome: 'denied' });
    // No job was made: the refusal names none that could be looked up in vain.
    const denied = await vault.vault.db('audit_events').where({ action: 'keys.rotation.start', outcome: 'denied', reason: 'subject_not_found' }).select('target');
    expect(denied).toEqual([{ target: null }]);
  });

  it.each([
    [{ kind: 'bogus' }, '/kind', 'kind must be one of kek, kms_key, signing, blind_index, subject'],
    [{ kind: 'subject' }, '/subject_id', 'subject_id (a sub_… id) is required for kind subject'],
  ])('refuses the rotation %j in words naming what is wrong, starting nothing', async (body, pointer, detail) => {
    const jobs = await vault.vault.db('rotation_jobs').count('* as count').first();
    const res = await rotate(body).expect(400);
    expect(res.body.errors).toEqual([{ pointer, detail }]);
    expect(await vault.vault.db('rotation_jobs').count('* as count').first()).toEqual(jobs);
  });

  it('served every read with the data it was created with throughout every rotation', async () => {
    const { reads, failures } = await background!.stop();
    background = undefined;
    expect(reads).toBeGreaterThan(0);
    // On failure, the vault's own error lines go into the report: the only record of the cause a CI run keeps.
    const errorLines = failures.length ? vault.logs.filter((line) => /"level":"(error|fatal)"/.test(line)) : [];
    expect({ failures, errorLines }).toEqual({ failures: [], errorLines: [] });
  });
});
