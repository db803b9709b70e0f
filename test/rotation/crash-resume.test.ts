import { Client } from 'pg';
import request from 'supertest';
import type { Credentials } from '../identity/support/identity-helpers';
import { emailsMismatching, type BulkSubject } from './support/bulk-subjects';
import { seededRig, waitForJobAt, type VaultProcessRig } from './support/vault-processes';

jest.setTimeout(300_000);

// Big enough that the job is caught mid-way, small enough for two cores; bench/rotation.ts runs 100,000.
const SUBJECTS = 20_000;

describe('a KEK rotation killed mid-job', () => {
  let rig: VaultProcessRig;
  let subjects: BulkSubject[];
  let admin: Credentials;

  beforeAll(async () => {
    ({ rig, subjects, admin } = await seededRig({ PDVAULT_ROTATION_BATCH_SIZE: '100', PDVAULT_ROTATION_WORKERS: '1', PDVAULT_ROTATION_POLL_MS: '200' }, SUBJECTS));
  });
  afterAll(() => rig?.cleanUp());

  it('resumes from its committed progress after SIGKILL and completes, every subject reading back byte-identical', async () => {
    const first = await rig.spawn(admin);
    const started = await request(first.url).post('/v1/admin/keys/rotations').ca(rig.ca).set('Authorization', first.auth).send({ kind: 'kek' }).expect(202);
    const jobId = started.body.job_id as string;
    const target = Number(started.body.params.target_kek_generation);
    expect(started.body.total).toBe(SUBJECTS);
    // Killed once some batches are committed and many are not.
    await waitForJobAt(first.url, rig.ca, first.auth, jobId, (job) => job.done > 0);
    first.run.child.kill('SIGKILL');
    expect((await first.run.exited).signal).toBe('SIGKILL');

    const client = new Client({ connectionString: rig.database.url });
    await client.connect();
    let killed;
    try {
      const job = await client.query('select state, done from rotation_jobs where id = $1', [jobId]);
      const moved = await client.query('select count(*)::int as count from subject_keys where kek_generation_id = $1', [target]);
      killed = { state: job.rows[0].state, done: Number(job.rows[0].done), moved: moved.rows[0].count };
    } finally {
      await client.end();
    }
    expect(killed.state).toBe('running');
    expect(killed.done).toBeLessThan(SUBJECTS);
    // Progress and re-wrapped keys commit together: nothing counted that was not done, nothing done that was not counted.
    expect(killed.done).toBe(killed.moved);

    const second = await rig.spawn(admin);
    const finished = await waitForJobAt(second.url, rig.ca, second.auth, jobId);
    expect(finished).toEqual(expect.objectContaining({ state: 'succeeded', done: SUBJECTS, total: SUBJECTS }));
    second.run.child.kill('SIGTERM');
    await second.run.exited;

    const reader = await rig.inProcess();
    try {
      const generations = await reader.db('subject_keys').select('kek_generation_id').count('* as count').groupBy('kek_generation_id');
      expect(generations.map((g) => [g.kek_generation_id, Number(g.count)])).toEqual([[target, SUBJECTS]]);
      expect(await reader.db('subjects').count('* as count').first()).toEqual({ count: String(SUBJECTS) });
      expect(await emailsMismatching(reader, subjects)).toEqual([]);
    } finally {
      await reader.stop();
    }
  });
});
