import request from 'supertest';
import { startVault, type RunningVault } from '../../src/cli/vault';
import { startTestVault, type TestVault } from '../support/test-vault';
import { accountService, bearer, keyAdmin, paymentProcessor, subjectBody, VISA } from './support/rotation-helpers';
import type { Caller } from '../policy/support/principals';

jest.setTimeout(120_000);

/**
 * Two instances on one database: `a` serves the writes and keeps the subject's key in memory;
 * `b` runs the re-key (a's rotation runner is stopped), so a's cached key is the old version.
 */
describe('writes on an instance whose cached subject key another instance re-keyed', () => {
  let a: TestVault;
  let b: RunningVault;
  let account: Caller;
  let processor: Caller;

  beforeAll(async () => {
    a = await startTestVault({ PDVAULT_ROTATION_POLL_MS: '20' });
    // Jobs `a` starts are run by `b` alone.
    await a.vault.rotation.runner.stop();
    b = await startVault({ ...a.config, rotation: { ...a.config.rotation, workers: 1 } }, { logDestination: { write: () => true } as never });
    account = await accountService(a);
    processor = await paymentProcessor(a);
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
  });

  async function rekeyedElsewhere(): Promise<{ id: string; etag: string }> {
    const created = await a.post('/v1/subjects').set('Authorization', bearer(account)).send(subjectBody(1)).expect(201);
    const id = created.body.id as string;
    const admin = await keyAdmin(a);
    const started = await a.post('/v1/admin/keys/rotations').set('Authorization', bearer(admin)).send({ kind: 'subject', subject_id: id }).expect(202);
    for (;;) {
      const job = await a.get(`/v1/admin/jobs/${started.body.job_id}`).set('Authorization', bearer(admin)).expect(200);
      if (job.body.state !== 'running') break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect((await a.vault.db('subject_keys').where({ subject_id: id })).map((k: { version: number }) => k.version)).toEqual([2]);
    return { id, etag: created.headers.etag };
  }

  it('stores a card sealed under the current key version, readable from either instance', async () => {
    const { id } = await rekeyedElsewhere();
    const added = await a.post(`/v1/subjects/${id}/payment-methods`).set('Authorization', bearer(account)).send(VISA).expect(201);

    const viaA = await a.post(`/v1/payment-methods/${added.body.token}/reveal`).set('Authorization', bearer(processor));
    const viaB = await request(`https://localhost:${b.port}`).post(`/v1/payment-methods/${added.body.token}/reveal`).ca(a.ca).set('Authorization', bearer(processor));
    expect([viaA.status, viaA.body.number, viaB.status, viaB.body.number]).toEqual([200, VISA.number, 200, VISA.number]);
  });

  it('applies a PATCH with the current ETag, sealed under the current key version', async () => {
    const { id, etag } = await rekeyedElsewhere();
    const patched = await a.patch(`/v1/subjects/${id}`).set('Authorization', bearer(account)).set('If-Match', etag).send({ name: 'Renamed After Rekey' });
    expect([patched.status, patched.body.name]).toEqual([200, 'Renamed After Rekey']);

    const read = await request(`https://localhost:${b.port}`).get(`/v1/subjects/${id}`).ca(a.ca).set('Authorization', bearer(account)).expect(200);
    expect(read.body.name).toBe('Renamed After Rekey');
  });
});
