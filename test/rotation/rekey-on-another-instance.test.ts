import request from 'supertest';
import { startVault, type RunningVault } from '../../src/cli/vault';
import { startTestVault, type TestVault } from '../support/test-vault';
import { eventually } from '../support/eventually';
import { accountService, bearer, keyAdmin, paymentProcessor, subjectBody, VISA, waitForJob } from './support/rotation-helpers';
import type { Caller } from '../policy/support/principals';

jest.setTimeout(120_000);

/**
 * Two instances on one database: `a` serves the writes and keeps the subject's key in memory;
 * `b` runs the re-key (a's rotation runner is stopped), so a's cached key is the old version.
 */
describe('an instance whose cached subject key another instance re-keyed or destroyed', () => {
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
    expect((await waitForJob(a, admin, started.body.job_id)).state).toBe('succeeded');
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

  /** The subjects whose keys `a` holds in memory, from its own metrics. */
  async function cachedOnA(): Promise<number> {
    const text = (await a.get('/metrics').expect(200)).text;
    return Number(/^pdvault_subject_keys_cached (\d+)$/m.exec(text)?.[1]);
  }

  it('drops the key of a subject erased on the other instance from its memory', async () => {
    const created = await a.post('/v1/subjects').set('Authorization', bearer(account)).send(subjectBody(2)).expect(201);
    await a.get(`/v1/subjects/${created.body.id}`).set('Authorization', bearer(account)).expect(200);
    const before = await cachedOnA();

    await request(`https://localhost:${b.port}`).delete(`/v1/subjects/${created.body.id}`).ca(a.ca).set('Authorization', bearer(account)).expect(204);

    await eventually(async () => (await cachedOnA()) === before - 1, "a's cache without the erased subject's key");
    await a.get(`/v1/subjects/${created.body.id}`).set('Authorization', bearer(account)).expect(404);
  });

  it('applies a PATCH with the current ETag, sealed under the current key version', async () => {
    const { id, etag } = await rekeyedElsewhere();
    const patched = await a.patch(`/v1/subjects/${id}`).set('Authorization', bearer(account)).set('If-Match', etag).send({ name: 'Renamed After Rekey' });
    expect([patched.status, patched.body.name]).toEqual([200, 'Renamed After Rekey']);

    const read = await request(`https://localhost:${b.port}`).get(`/v1/subjects/${id}`).ca(a.ca).set('Authorization', bearer(account)).expect(200);
    expect(read.body.name).toBe('Renamed After Rekey');
  });
});
