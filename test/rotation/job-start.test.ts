import { VaultError } from '../../src/errors/vault-error';
import { PreparedVersionTaken, RotationJobStore } from '../../src/store/rotation-jobs';
import { RotationJobs } from '../../src/vault/rotation/rotation-jobs';
import type { RotationKindHandler } from '../../src/vault/rotation/rotation-kind';
import { captureLogs } from '../crypto/hierarchy-fixture';
import { startTestVault, type TestVault } from '../support/test-vault';

let vault: TestVault;
beforeAll(async () => {
  // No runner takes the jobs up.
  vault = await startTestVault({ PDVAULT_ROTATION_WORKERS: '0' });
});
afterAll(() => vault.stop());
// A job a test left running would refuse the next test's start.
afterEach(() => vault.vault.db('rotation_jobs').where({ state: 'running' }).update({ state: 'failed', finished_at: vault.vault.db.fn.now() }));

const ACTOR = { clientId: 'cli_jobstarter00000' };

/**
 * The start of a job with a kind handler of the test's own, on the vault's real database and
 * audit trail: what happens around the transaction that records it.
 */
function jobsWith(handler: RotationKindHandler) {
  const logs = captureLogs();
  const store = new RotationJobStore(vault.vault.db);
  const jobs = new RotationJobs(vault.vault.db, store, { signing: handler } as unknown as ConstructorParameters<typeof RotationJobs>[2], vault.vault.audit.writer, logs.logger);
  return { jobs, store, logs };
}

const startEvents = (outcome: string) => vault.vault.db('audit_events').where({ action: 'keys.rotation.start', outcome, client_id: ACTOR.clientId }).orderBy('seq').select('reason', 'target');

describe('starting a rotation job', () => {
  it('answers a committed start with its job, audited as allowed, when this instance fails to take up the new key', async () => {
    const { jobs, store, logs } = jobsWith({
      prepare: async () => ({
        record: async () => ({ params: { kid: 'kid_test' }, total: 1 }),
        committed: () => {
          throw new Error('the new key could not be loaded');
        },
      }),
      complete: async () => true,
    });
    const job = await jobs.start({ kind: 'signing' }, ACTOR);
    expect(job).toMatchObject({ kind: 'signing', state: 'running', params: { kid: 'kid_test' } });
    expect(await store.find(job.job_id)).toMatchObject({ state: 'running' });
    expect(await startEvents('allowed')).toEqual([{ reason: null, target: job.job_id }]);
    expect(logs.lines.some((line) => line.includes('picks up the new key at its next reload'))).toBe(true);
  });

  it('answers a start with the job as stored: its start stamped after the commit, and no change before it', async () => {
    const { jobs } = jobsWith({ prepare: async () => ({ record: async () => ({ params: {}, total: 0 }) }), complete: async () => true });
    const job = await jobs.start({ kind: 'signing' }, ACTOR);
    const stored = await vault.vault.rotation.jobs.get(job.job_id);
    expect([job.started_at, job.updated_at]).toEqual([stored.started_at, stored.updated_at]);
    expect(Date.parse(job.updated_at)).toBeGreaterThanOrEqual(Date.parse(job.started_at));
  });

  it('follows the allowed start with not_done when its transaction refuses it, and records no job', async () => {
    const { jobs } = jobsWith({
      prepare: async () => ({
        record: async () => {
          throw new VaultError('kms_key_unusable', 409, 'The new KMS key is not enabled and usable for encryption');
        },
      }),
      complete: async () => true,
    });
    await expect(jobs.start({ kind: 'signing' }, ACTOR)).rejects.toMatchObject({ code: 'kms_key_unusable' });
    expect(await new RotationJobStore(vault.vault.db).running('signing')).toEqual([]);
    const allowed = (await startEvents('allowed')).at(-1);
    expect((await startEvents('denied')).at(-1)).toEqual({ reason: 'not_done:kms_key_unusable', target: allowed!.target });
  });

  it('abandons what it made when recording the job fails, records no job, and claims nothing of a failure whose commit it cannot know', async () => {
    let abandoned = 0;
    const { jobs } = jobsWith({
      prepare: async () => ({
        record: async () => {
          throw new Error('the key could not be stored');
        },
        abandoned: () => (abandoned += 1),
      }),
      complete: async () => true,
    });
    const running = async () => (await new RotationJobStore(vault.vault.db).running('signing')).length;
    await expect(jobs.start({ kind: 'signing' }, ACTOR)).rejects.toThrow('the key could not be stored');
    expect(abandoned).toBe(1);
    expect(await running()).toBe(0);
    const denied = await startEvents('denied');
    expect(denied.filter((event) => event.reason !== 'not_done:kms_key_unusable')).toEqual([]);
  });

  it('prepares again when its version was taken, and refuses as already running a start that loses that race three times', async () => {
    let prepared = 0;
    let abandoned = 0;
    const { jobs, store } = jobsWith({
      prepare: async () => {
        prepared += 1;
        return {
          record: async () => {
            throw new PreparedVersionTaken('signing');
          },
          abandoned: () => (abandoned += 1),
        };
      },
      complete: async () => true,
    });
    await expect(jobs.start({ kind: 'signing' }, ACTOR)).rejects.toMatchObject({ code: 'rotation_already_running', status: 409 });
    expect({ prepared, abandoned }).toEqual({ prepared: 3, abandoned: 3 });
    expect(await store.running('signing')).toEqual([]);
    expect((await startEvents('denied')).filter((event) => event.reason === 'not_done:rotation_already_running')).toHaveLength(1);
  });

  it('has the start audited as allowed before the transaction that makes it take effect commits', async () => {
    let seenInside: Array<{ reason: string | null; target: string }> = [];
    const { jobs } = jobsWith({
      prepare: async () => ({
        record: async () => {
          // Read apart from the transaction: what a crash at this moment would leave.
          seenInside = await vault.vault.db('audit_events').where({ action: 'keys.rotation.start', outcome: 'allowed', client_id: 'cli_auditedfirst0000' }).select('reason', 'target');
          return { params: {}, total: 0 };
        },
      }),
      complete: async () => true,
    });
    const job = await jobs.start({ kind: 'signing' }, { clientId: 'cli_auditedfirst0000' });
    expect(seenInside).toEqual([{ reason: null, target: job.job_id }]);
  });
});
