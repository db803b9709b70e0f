import { startSecondInstance } from '../identity/support/identity-helpers';
import { startTestVault, type TestVault } from '../support/test-vault';
import type { Caller } from '../policy/support/principals';
import { accountService, bearer, keyAdmin, subjectBody, VISA, waitForJob } from './support/rotation-helpers';

jest.setTimeout(120_000);

/**
 * A rotation step holds its transaction, and the row locks it claimed, while it works; a start
 * holds the transaction that records its job. Were either to take a second pooled connection
 * meanwhile, writers queued on those locks, each holding a connection, could leave it none. The
 * steps and starts here run on an instance with a single connection (and no subject key in
 * memory), where any such second connection would never come.
 */
describe('rotations on an instance with a single database connection', () => {
  let vault: TestVault;
  let worker: Awaited<ReturnType<typeof startSecondInstance>>;
  let admin: Caller;
  let account: Caller;
  const subjects: Array<{ id: string; email: string }> = [];

  beforeAll(async () => {
    // The worker alone runs the jobs' steps; the starts below go to it too.
    vault = await startTestVault({ PDVAULT_ROTATION_WORKERS: '0', PDVAULT_BLIND_INDEX_RETIRE_GRACE_MS: '0' });
    admin = await keyAdmin(vault);
    account = await accountService(vault);
    for (let n = 0; n < 12; n++) {
      const body = subjectBody(n);
      subjects.push({ id: (await vault.post('/v1/subjects').set('Authorization', bearer(account)).send(body).expect(201)).body.id, email: body.email });
    }
    await vault.post(`/v1/subjects/${subjects[0]!.id}/payment-methods`).set('Authorization', bearer(account)).send(VISA).expect(201);
    worker = await startSecondInstance(vault, (config) => {
      config.database.poolMax = 1;
      config.keys.subjectKeyCacheSize = 1;
      config.rotation.workers = 1;
      config.rotation.pollMs = 20;
      config.rotation.batchSize = 5;
    });
  });
  afterAll(async () => {
    await worker?.stop();
    await vault?.stop();
  });

  const rotate = (body: Record<string, unknown>) => vault.post('/v1/admin/keys/rotations').set('Authorization', bearer(admin)).send(body).expect(202);

  it('re-indexes every email and card under a new blind-index key it had not loaded', async () => {
    const started = await rotate({ kind: 'blind_index' });
    expect(await waitForJob(vault, admin, started.body.job_id)).toMatchObject({ state: 'succeeded' });
    expect(await vault.vault.db('subjects').distinct('email_index_version')).toEqual([{ email_index_version: 2 }]);
    expect(await vault.vault.db('payment_methods').distinct('fingerprint_version')).toEqual([{ fingerprint_version: 2 }]);
  });

  it('re-wraps every subject key and re-seals the vault secrets under a new KEK generation', async () => {
    const started = await rotate({ kind: 'kek' });
    expect(await waitForJob(vault, admin, started.body.job_id)).toMatchObject({ state: 'succeeded' });
    const generation = Number((await vault.vault.db('kek_generations').where({ state: 'active' }).first())!.id);
    expect(generation).toBeGreaterThan(1);
    expect(await vault.vault.db('subject_keys').distinct('kek_generation_id')).toEqual([{ kek_generation_id: generation }]);
    const secrets = [...(await vault.vault.db('signing_keys').pluck('sealed_private_key')), ...(await vault.vault.db('blind_index_keys').pluck('sealed_key'))];
    for (const sealed of secrets) expect(vault.vault.keys.secretGeneration(sealed)).toBe(generation);
  });

  /**
   * Making a new key takes pooled connections: the KEK generation and the signing key commit on
   * their own. Made inside the transaction that records the job, on one connection, it would wait
   * for a second that never comes; further starts would each wait on the first.
   */
  const start = (kind: string) => worker.call('post', '/v1/admin/keys/rotations').set('Authorization', bearer(admin)).send({ kind });

  it.each(['signing', 'kek', 'blind_index', 'kms_key'])('starts a %s rotation through its own API', async (kind) => {
    const started = await start(kind).expect(202);
    expect(await waitForJob(vault, admin, started.body.job_id)).toMatchObject({ state: 'succeeded' });
  });

  // Starts that look for a running job at the same moment all find none; the job row's unique
  // index then lets one through. The others must leave no key behind: a signing key or a KEK
  // generation made for a refused start would be a rotation the audit trail calls denied.
  it.each([
    ['signing', 'signing_keys'],
    ['kek', 'kek_generations'],
  ])('makes a new %s key only for a start it answers 202, of four asked for at once', async (kind, keyTable) => {
    const count = async (table: string, where: Record<string, string> = {}) =>
      Number((await vault.vault.db(table).where(where).count<Array<{ count: string }>>('* as count'))[0]!.count);
    const [jobsBefore, keysBefore] = [await count('rotation_jobs', { kind }), await count(keyTable)];
    const answers = await Promise.all([start(kind), start(kind), start(kind), start(kind)]);
    const started = answers.filter((answer) => answer.status === 202);
    const refused = answers.filter((answer) => answer.status !== 202);
    expect(started.length).toBeGreaterThanOrEqual(1);
    for (const answer of refused) expect(answer.body).toMatchObject({ status: 409, code: 'rotation_already_running' });
    // A KEK job runs for at least two reservation checks: the four starts meet one job.
    if (kind === 'kek') expect(started).toHaveLength(1);
    for (const answer of started) expect(await waitForJob(vault, admin, answer.body.job_id)).toMatchObject({ state: 'succeeded' });
    expect(await count('rotation_jobs', { kind })).toBe(jobsBefore + started.length);
    expect(await count(keyTable)).toBe(keysBefore + started.length);
  });
});
