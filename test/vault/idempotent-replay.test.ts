import { startTestVault, type TestVault } from '../support/test-vault';
import { callerWith } from '../policy/support/principals';
import { accountService, auth, SAMPLE, type Caller } from './support/data-callers';

let vault: TestVault;
let account: Caller;
beforeAll(async () => {
  vault = await startTestVault();
  account = await accountService(vault);
});
afterAll(() => vault.stop());

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

  it('does not create an erased subject again: 409 subject_erased, nothing stored', async () => {
    const first = await vault.post('/v1/subjects').set('Authorization', auth(account)).set('Idempotency-Key', 'erased-1').send(SAMPLE).expect(201);
    await vault.delete(`/v1/subjects/${first.body.id}`).set('Authorization', auth(account)).expect(204);
    const before = await vault.vault.db('subjects').count('* as n').first();

    const late = await vault.post('/v1/subjects').set('Authorization', auth(account)).set('Idempotency-Key', 'erased-1').send(SAMPLE);

    expect([late.status, late.body.code]).toEqual([409, 'subject_erased']);
    expect(JSON.stringify(late.body)).not.toContain(SAMPLE.email);
    expect(await vault.vault.db('subjects').count('* as n').first()).toEqual(before);
    // The key is kept without the hash of the erased subject's values.
    const key = await vault.vault.db('idempotency_keys').where({ client_id: account.credentials.clientId, key: 'erased-1' }).first();
    expect([key.subject_id, key.request_hash]).toEqual([first.body.id, null]);
    // A new key creates a new subject.
    await vault.post('/v1/subjects').set('Authorization', auth(account)).set('Idempotency-Key', 'erased-2').send(SAMPLE).expect(201);
  });
});
