import crypto from 'node:crypto';
import { canonicalJson } from '../../src/audit/chain';
import { startTestVault, type TestVault } from '../support/test-vault';
import { callerWith } from '../policy/support/principals';
import { keyAdmin, waitForJob } from '../rotation/support/rotation-helpers';
import { startSecondInstance } from '../identity/support/identity-helpers';
import { accountService, auth, SAMPLE, type Caller } from './support/data-callers';

let vault: TestVault;
let account: Caller;
beforeAll(async () => {
  // Rotations run at once and retire the old blind-index key without waiting out other instances.
  vault = await startTestVault({ PDVAULT_ROTATION_POLL_MS: '100', PDVAULT_BLIND_INDEX_RETIRE_GRACE_MS: '0' });
  account = await accountService(vault);
});
afterAll(() => vault.stop());

/** The subject's key row as a release before digests kept it: the key as sent, the request's plain SHA-256. */
const storeAsAnEarlierReleaseDid = (subjectId: string, key: string, body: object) =>
  vault.vault
    .db('idempotency_keys')
    .where({ client_id: account.credentials.clientId, subject_id: subjectId })
    .update({ key, key_version: null, request_hash: crypto.createHash('sha256').update(canonicalJson(body)).digest(), request_hash_version: null });

describe('a creation sent again with its Idempotency-Key', () => {
  it('answers a writer without read access with what its first answer showed, not a refusal', async () => {
    const writer = await callerWith(vault, { scopes: ['subjects:write'], purposes: ['account_management'] }, 'subjects:write', 'account_management');
    const body = { email: 'writer.only@example.com', name: 'Writer Only' };
    const first = await vault.post('/v1/subjects').set('Authorization', auth(writer)).set('Idempotency-Key', 'writer-1').send(body).expect(201);

    const again = await vault.post('/v1/subjects').set('Authorization', auth(writer)).set('Idempotency-Key', 'writer-1').send(body);

    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(again.headers.etag).toBe(first.headers.etag);
    const reads = await vault.vault.db('audit_events').where({ client_id: writer.credentials.clientId, action: 'subjects.read' });
    expect(reads).toEqual([]);
  });

  it('answers with what the first answer showed, not the subject as changed since: a writer without read access learns nothing new', async () => {
    const writer = await callerWith(vault, { scopes: ['subjects:write'], purposes: ['account_management'] }, 'subjects:write', 'account_management');
    const body = { email: 'before.change@example.com', name: 'Before Change' };
    const first = await vault.post('/v1/subjects').set('Authorization', auth(writer)).set('Idempotency-Key', 'changed-since-1').send(body).expect(201);
    const changed = await vault.patch(`/v1/subjects/${first.body.id}`).set('Authorization', auth(account)).set('If-Match', first.headers.etag).send({ email: 'after.change@example.com', name: null }).expect(200);

    const again = await vault.post('/v1/subjects').set('Authorization', auth(writer)).set('Idempotency-Key', 'changed-since-1').send(body).expect(200);

    expect(again.body).toEqual(first.body);
    expect(again.headers.etag).toBe('"1"');
    expect(JSON.stringify(again.body)).not.toContain('after.change');
    // The ETag of the first answer: a change based on it is refused, and the subject must be read.
    await vault.patch(`/v1/subjects/${first.body.id}`).set('Authorization', auth(writer)).set('If-Match', again.headers.etag).send({ name: 'Blind' }).expect(412);
    expect(changed.headers.etag).toBe('"2"');
  });

  it('does not create an erased subject again: 409 subject_erased, nothing stored', async () => {
    const first = await vault.post('/v1/subjects').set('Authorization', auth(account)).set('Idempotency-Key', 'erased-1').send(SAMPLE).expect(201);
    await vault.delete(`/v1/subjects/${first.body.id}`).set('Authorization', auth(account)).expect(204);
    const before = await vault.vault.db('subjects').count('* as n').first();

    const late = await vault.post('/v1/subjects').set('Authorization', auth(account)).set('Idempotency-Key', 'erased-1').send(SAMPLE);

    expect([late.status, late.body.code]).toEqual([409, 'subject_erased']);
    expect(JSON.stringify(late.body)).not.toContain(SAMPLE.email);
    expect(await vault.vault.db('subjects').count('* as n').first()).toEqual(before);
    // The key is kept without the hash of the erased subject's values.
    const key = await vault.vault.db('idempotency_keys').where({ client_id: account.credentials.clientId, subject_id: first.body.id }).first();
    expect([key.subject_id, key.request_hash]).toEqual([first.body.id, null]);
    // A new key creates a new subject.
    await vault.post('/v1/subjects').set('Authorization', auth(account)).set('Idempotency-Key', 'erased-2').send(SAMPLE).expect(201);
  });

  it('answers 409 subject_erased, not 404, to a retry that found its key just before the erasure committed', async () => {
    const first = await vault.post('/v1/subjects').set('Authorization', auth(account)).set('Idempotency-Key', 'erased-race').send(SAMPLE).expect(201);
    // The state such a retry reads: the key still holds the request's digest, the subject is gone.
    await vault.vault.db('subjects').where({ id: first.body.id }).delete();

    const late = await vault.post('/v1/subjects').set('Authorization', auth(account)).set('Idempotency-Key', 'erased-race').send(SAMPLE);

    expect([late.status, late.body.code]).toEqual([409, 'subject_erased']);
    expect(await vault.vault.db('subjects').where({ id: first.body.id }).first()).toBeUndefined();
  });

  it('is recognised by a keyed digest: the table holds nothing a guess of the values can be tested against', async () => {
    const body = { email: 'keyed.digest@example.com', name: 'Keyed Digest' };
    const made = await vault.post('/v1/subjects').set('Authorization', auth(account)).set('Idempotency-Key', 'keyed-1').send(body).expect(201);

    const key = await vault.vault.db('idempotency_keys').where({ client_id: account.credentials.clientId, subject_id: made.body.id }).first();

    expect(key.request_hash).toHaveLength(32);
    expect(key.request_hash.equals(crypto.createHash('sha256').update(canonicalJson(body)).digest())).toBe(false);
    expect(key.request_hash_version).toBe(1);
  });

  it('still matches after the blind-index key is rotated, and still tells a different request apart', async () => {
    const body = { email: 'rotated.digest@example.com', name: 'Rotated Digest' };
    const first = await vault.post('/v1/subjects').set('Authorization', auth(account)).set('Idempotency-Key', 'rotated-1').send(body).expect(201);
    const admin = await keyAdmin(vault);
    const job = await vault.post('/v1/admin/keys/rotations').set('Authorization', auth(admin)).send({ kind: 'blind_index' }).expect(202);
    expect((await waitForJob(vault, admin, job.body.job_id)).state).toBe('succeeded');

    const again = await vault.post('/v1/subjects').set('Authorization', auth(account)).set('Idempotency-Key', 'rotated-1').send(body);
    const other = await vault.post('/v1/subjects').set('Authorization', auth(account)).set('Idempotency-Key', 'rotated-1').send({ ...body, name: 'Someone Else' });

    expect([again.status, again.body.id]).toEqual([200, first.body.id]);
    expect([other.status, other.body.code]).toEqual([422, 'idempotency_key_reused']);
  });

  it('stores the key itself only as a keyed digest: a key holding an email or a card number is nowhere in the table', async () => {
    for (const sent of ['signup-idem.canary@example.com', '4000056655665556']) {
      const made = await vault.post('/v1/subjects').set('Authorization', auth(account)).set('Idempotency-Key', sent).send({ name: 'Digest Canary' }).expect(201);
      const row = await vault.vault.db('idempotency_keys').where({ client_id: account.credentials.clientId, subject_id: made.body.id }).first();
      expect(row.key).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(row.key_version).toEqual(expect.any(Number));
      // The same key finds it again, from the same client only.
      const again = await vault.post('/v1/subjects').set('Authorization', auth(account)).set('Idempotency-Key', sent).send({ name: 'Digest Canary' });
      expect([again.status, again.body.id]).toEqual([200, made.body.id]);
    }
    const other = await accountService(vault);
    await vault.post('/v1/subjects').set('Authorization', auth(other)).set('Idempotency-Key', '4000056655665556').send({ name: 'Digest Canary' }).expect(201);
    const table = JSON.stringify(await vault.vault.db('idempotency_keys').select('*'));
    expect(table).not.toContain('canary');
    expect(table).not.toContain('4000056655665556');
  });

  it('is found by an instance that has not yet loaded the blind-index version it was stored under, without a second pooled connection', async () => {
    // One pooled session: a claim that loaded the new key version while holding its transaction's would wait for another forever.
    const second = await startSecondInstance(vault, (config) => {
      config.database.poolMax = 1;
    });
    try {
      const create = (on: 'first' | 'second', key: string, body: object) =>
        (on === 'first' ? vault.post('/v1/subjects') : second.call('post', '/v1/subjects')).set('Authorization', auth(account)).set('Idempotency-Key', key).send(body);
      // The second instance loads the blind-index keys as they are now, and keeps them for its refresh interval.
      await create('second', 'stale-warm', { name: 'Warm Up' }).expect(201);
      const admin = await keyAdmin(vault);
      const job = await vault.post('/v1/admin/keys/rotations').set('Authorization', auth(admin)).send({ kind: 'blind_index' }).expect(202);
      expect((await waitForJob(vault, admin, job.body.job_id)).state).toBe('succeeded');
      const keysOf = async () => Number((await vault.vault.db('idempotency_keys').where({ client_id: account.credentials.clientId }).count('* as n').first())!.n);

      const body = { name: 'Across Versions' };
      const first = await create('first', 'stale-1', body).expect(201);
      const before = await keysOf();
      const retried = await create('second', 'stale-1', body);

      expect([retried.status, retried.body.id]).toEqual([200, first.body.id]);
      expect(await keysOf()).toBe(before);
    } finally {
      await second.stop();
    }
  });

  it('does not keep a key recorded as sent readable past its subject\'s erasure: its digest answers the retry with 409', async () => {
    const body = { email: 'legacy.erased@example.com' };
    const first = await vault.post('/v1/subjects').set('Authorization', auth(account)).set('Idempotency-Key', 'signup-legacy.erased@example.com').send(body).expect(201);
    await storeAsAnEarlierReleaseDid(first.body.id, 'signup-legacy.erased@example.com', body);

    await vault.delete(`/v1/subjects/${first.body.id}`).set('Authorization', auth(account)).expect(204);

    const rows = await vault.vault.db('idempotency_keys').where({ subject_id: first.body.id });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ key_version: expect.any(Number), request_hash: null });
    expect(JSON.stringify(rows)).not.toContain('legacy.erased');
    const retried = await vault.post('/v1/subjects').set('Authorization', auth(account)).set('Idempotency-Key', 'signup-legacy.erased@example.com').send(body).expect(409);
    expect(retried.body.code).toBe('subject_erased');
  });

  it('finds a key recorded before keys were digested, as sent, and compares its request by the plain hash it was recorded with', async () => {
    const body = { email: 'legacy.digest@example.com' };
    const first = await vault.post('/v1/subjects').set('Authorization', auth(account)).set('Idempotency-Key', 'legacy-1').send(body).expect(201);
    await storeAsAnEarlierReleaseDid(first.body.id, 'legacy-1', body);

    const again = await vault.post('/v1/subjects').set('Authorization', auth(account)).set('Idempotency-Key', 'legacy-1').send(body);
    const other = await vault.post('/v1/subjects').set('Authorization', auth(account)).set('Idempotency-Key', 'legacy-1').send({ email: 'other.legacy@example.com' });

    expect([again.status, again.body.id]).toEqual([200, first.body.id]);
    expect([other.status, other.body.code]).toEqual([422, 'idempotency_key_reused']);
  });

  it('has a key stored as sent by an earlier release turned into its digest, and found by it afterwards', async () => {
    const body = { email: 'sent.as.is@example.com' };
    const first = await vault.post('/v1/subjects').set('Authorization', auth(account)).set('Idempotency-Key', 'signup-sent.as.is@example.com').send(body).expect(201);
    const row = () => vault.vault.db('idempotency_keys').where({ client_id: account.credentials.clientId, subject_id: first.body.id }).first();
    const digest = (await row()).key;
    await vault.vault.db('idempotency_keys').where({ client_id: account.credentials.clientId, subject_id: first.body.id }).update({ key: 'signup-sent.as.is@example.com', key_version: null });

    expect((await vault.vault.domain.digestKeysStoredAsSent()).changed).toBeGreaterThanOrEqual(1);

    expect((await row()).key).toBe(digest);
    expect(await vault.vault.db('idempotency_keys').whereNull('key_version')).toEqual([]);
    const again = await vault.post('/v1/subjects').set('Authorization', auth(account)).set('Idempotency-Key', 'signup-sent.as.is@example.com').send(body);
    expect([again.status, again.body.id]).toEqual([200, first.body.id]);
  });
});
