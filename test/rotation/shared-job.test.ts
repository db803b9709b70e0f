import { Client } from 'pg';
import request from 'supertest';
import type { Credentials } from '../identity/support/identity-helpers';
import { emailsMismatching, type BulkSubject } from './support/bulk-subjects';
import { seededRig, waitForJobAt, type VaultProcessRig } from './support/vault-processes';

jest.setTimeout(300_000);

const SUBJECTS = 6_000;

describe('two vault processes on one database', () => {
  let rig: VaultProcessRig;
  let subjects: BulkSubject[];
  let admin: Credentials;

  beforeAll(async () => {
    ({ rig, subjects, admin } = await seededRig({ PDVAULT_ROTATION_BATCH_SIZE: '25', PDVAULT_ROTATION_WORKERS: '1', PDVAULT_ROTATION_POLL_MS: '50' }, SUBJECTS));
    // Test instrumentation only: every re-wrap is logged with the process (its connections' application name) that made it.
    const client = new Client({ connectionString: rig.database.url });
    await client.connect();
    try {
      await client.query('create table rewrap_log (subject_id text, version int, process text)');
      await client.query(`create function log_rewrap() returns trigger language plpgsql as $$
        begin insert into rewrap_log values (new.subject_id, new.version, current_setting('application_name')); return new; end $$`);
      await client.query('create trigger subject_keys_rewrap after update of wrapped_key on subject_keys for each row execute function log_rewrap()');
    } finally {
      await client.end();
    }
  });
  afterAll(() => rig?.cleanUp());

  it('share one KEK rotation job batch by batch, and no subject key is re-wrapped twice', async () => {
    const a = await rig.spawn(admin, { PDVAULT_DB_APPLICATION_NAME: 'pdvault-a' });
    const b = await rig.spawn(admin, { PDVAULT_DB_APPLICATION_NAME: 'pdvault-b' });
    const started = await request(a.url).post('/v1/admin/keys/rotations').ca(rig.ca).set('Authorization', a.auth).send({ kind: 'kek' }).expect(202);
    const job = await waitForJobAt(b.url, rig.ca, b.auth, started.body.job_id);
    expect(job).toEqual(expect.objectContaining({ state: 'succeeded', done: SUBJECTS, total: SUBJECTS, errors: [] }));

    const client = new Client({ connectionString: rig.database.url });
    await client.connect();
    try {
      const byProcess = await client.query('select process, count(*)::int as count from rewrap_log group by process order by process');
      const distinct = await client.query('select count(*)::int as rewraps, count(distinct (subject_id, version))::int as keys from rewrap_log');
      // Both processes took batches; every key was re-wrapped exactly once.
      expect(byProcess.rows.map((row) => row.process)).toEqual(['pdvault-a', 'pdvault-b']);
      expect(byProcess.rows.every((row) => row.count > 0)).toBe(true);
      expect(distinct.rows[0]).toEqual({ rewraps: SUBJECTS, keys: SUBJECTS });
    } finally {
      await client.end();
    }
    for (const process of [a, b]) {
      process.run.child.kill('SIGTERM');
      await process.run.exited;
    }
    const reader = await rig.inProcess();
    try {
      expect(await emailsMismatching(reader, subjects)).toEqual([]);
    } finally {
      await reader.stop();
    }
  });
});
