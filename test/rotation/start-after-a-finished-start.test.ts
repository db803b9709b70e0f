import { RotationJobStore } from '../../src/store/rotation-jobs';
import { RotationJobs, type RotationJobView } from '../../src/vault/rotation/rotation-jobs';
import type { RotationKindHandler } from '../../src/vault/rotation/rotation-kind';
import { captureLogs } from '../crypto/hierarchy-fixture';
import { startTestVault, type TestVault } from '../support/test-vault';

jest.setTimeout(60_000);

let vault: TestVault;
beforeAll(async () => {
  // The old index key retires as soon as a job has re-indexed everything: a job can finish within a start.
  vault = await startTestVault({ PDVAULT_BLIND_INDEX_RETIRE_GRACE_MS: '0', PDVAULT_ROTATION_POLL_MS: '20' });
});
afterAll(() => vault.stop());

const ACTOR = { clientId: 'cli_racingstarter00' };

async function finished(jobId: string): Promise<void> {
  for (let waited = 0; waited < 30_000; waited += 50) {
    if ((await vault.vault.rotation.jobs.get(jobId)).state !== 'running') return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`job ${jobId} still running`);
}

describe('a blind-index rotation started while another start runs and finishes', () => {
  it('prepares its key again for the next version and starts, rather than refusing with no job to name', async () => {
    const versions = () => vault.vault.db('blind_index_keys').orderBy('version').pluck('version');
    const newest = Math.max(0, ...(await versions()));
    const real = vault.vault.rotation.jobs.handler('blind_index');
    let first: RotationJobView | undefined;
    // Between this start's prepare and its transaction, another start records its job, which then finishes.
    const racing: RotationKindHandler = {
      ...real,
      prepare: async (request) => {
        const prepared = await real.prepare(request);
        if (!first) {
          first = await vault.vault.rotation.start({ kind: 'blind_index' }, ACTOR);
          await finished(first.job_id);
        }
        return prepared;
      },
      complete: (job, trx) => real.complete(job, trx),
    };
    const jobs = new RotationJobs(vault.vault.db, new RotationJobStore(vault.vault.db), { blind_index: racing } as unknown as ConstructorParameters<typeof RotationJobs>[2], vault.vault.audit.writer, captureLogs().logger);

    const second = await jobs.start({ kind: 'blind_index' }, ACTOR);

    expect(first).toMatchObject({ params: { index_version: newest + 1 } });
    expect(await vault.vault.rotation.jobs.get(first!.job_id)).toMatchObject({ state: 'succeeded' });
    expect(second).toMatchObject({ kind: 'blind_index', state: 'running', params: { index_version: newest + 2 } });
    // One key per job that started: the key the second start first prepared, for the first's version, was not stored.
    expect((await versions()).filter((version) => version > newest)).toEqual([newest + 1, newest + 2]);
    expect(await vault.vault.db('audit_events').where({ action: 'keys.rotation.start', client_id: ACTOR.clientId }).orderBy('seq').pluck('outcome')).toEqual(['allowed', 'allowed']);
    await finished(second.job_id);
    expect(await vault.vault.rotation.jobs.get(second.job_id)).toMatchObject({ state: 'succeeded' });
  });
});
