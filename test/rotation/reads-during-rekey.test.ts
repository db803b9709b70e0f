import { startTestVault, type TestVault } from '../support/test-vault';
import { dataCaller } from '../policy/support/principals';
import { accountService, bearer, keyAdmin, paymentProcessor, VISA, waitForJob } from './support/rotation-helpers';
import type { Caller } from '../policy/support/principals';

jest.setTimeout(120_000);

const SUBJECT = { email: 'rekeyed.reader@example.com', name: 'Ri Rekeyed', phone: '+442071838750', birth_date: '1990-04-01' };

describe('reads of a subject while it is re-keyed', () => {
  let vault: TestVault;
  let admin: Caller;
  let account: Caller;
  let id: string;
  let token: string;

  beforeAll(async () => {
    vault = await startTestVault({ PDVAULT_ROTATION_POLL_MS: '20' });
    admin = await keyAdmin(vault);
    account = await accountService(vault);
    id = (await vault.post('/v1/subjects').set('Authorization', bearer(account)).send(SUBJECT).expect(201)).body.id;
    token = (await vault.post(`/v1/subjects/${id}/payment-methods`).set('Authorization', bearer(account)).send(VISA).expect(201)).body.token;
  });
  afterAll(() => vault?.stop());

  const rekey = async () => {
    const started = await vault.post('/v1/admin/keys/rotations').set('Authorization', bearer(admin)).send({ kind: 'subject', subject_id: id }).expect(202);
    expect((await waitForJob(vault, admin, started.body.job_id)).state).toBe('succeeded');
  };

  it('answers every read with the values it holds, however the re-keys fall between reading a row and opening it', async () => {
    const mailer = await dataCaller(vault, 'emails:resolve', 'transactional_email');
    const processor = await paymentProcessor(vault);
    // Each read and the values its answer must carry; a row read just before a re-key commits is opened just after it.
    const reads: Array<[string, () => Promise<{ status: number; body: Record<string, unknown> }>, (body: Record<string, unknown>) => unknown]> = [
      ['subject', () => vault.get(`/v1/subjects/${id}`).set('Authorization', bearer(account)), (b) => [b.email, b.name]],
      ['email', () => vault.get(`/v1/subjects/${id}/email`).set('Authorization', bearer(mailer)), (b) => [b.email]],
      ['batch', () => vault.post('/v1/emails/resolve').set('Authorization', bearer(mailer)).send({ subject_ids: [id] }), (b) => [(b.results as Array<{ email: string }>)[0]?.email]],
      ['export', () => vault.get(`/v1/subjects/${id}/export`).set('Authorization', bearer(account)), (b) => [(b.subject as { email: string }).email]],
      ['reveal', () => vault.post(`/v1/payment-methods/${token}/reveal`).set('Authorization', bearer(processor)), (b) => [b.number]],
    ];
    const expected: Record<string, unknown> = { subject: [SUBJECT.email, SUBJECT.name], email: [SUBJECT.email], batch: [SUBJECT.email], export: [SUBJECT.email], reveal: [VISA.number] };
    let stop = false;
    const answers: Record<string, number> = {};
    const wrong: string[] = [];
    const loops = reads.map(async ([name, read, values]) => {
      while (!stop) {
        const res = await read();
        answers[name] = (answers[name] ?? 0) + 1;
        if (res.status !== 200) wrong.push(`${name}: ${res.status} ${String(res.body.code)}`);
        else if (JSON.stringify(values(res.body)) !== JSON.stringify(expected[name])) wrong.push(`${name}: other values`);
      }
    });
    for (let n = 0; n < 25; n++) await rekey();
    stop = true;
    await Promise.all(loops);

    expect(wrong).toEqual([]);
    for (const [name] of reads) expect(answers[name]).toBeGreaterThan(0);
    expect((await vault.vault.db('subject_keys').where({ subject_id: id })).map((k: { version: number }) => k.version)).toEqual([26]);
  });

  it('answers integrity_error, once read again, for a field put back from before a re-key', async () => {
    const before = await vault.vault.db('subjects').where({ id }).first();
    await rekey();
    await vault.vault.db('subjects').where({ id }).update({ name: before.name });

    const res = await vault.get(`/v1/subjects/${id}`).set('Authorization', bearer(account)).expect(500);
    expect(res.body.code).toBe('integrity_error');
    expect(JSON.stringify(res.body)).not.toContain(SUBJECT.name);
  });
});
