import { RotationJobStore } from '../../src/store/rotation-jobs';
import { startTestVault, type TestVault } from '../support/test-vault';

let vault: TestVault;
beforeAll(async () => {
  // The runner would take the job up; this file moves its progress by hand.
  vault = await startTestVault({ PDVAULT_ROTATION_WORKERS: '0' });
});
afterAll(() => vault.stop());

describe("a rotation job's progress", () => {
  it('raises its total with work found after its start, so done never exceeds total', async () => {
    const jobs = new RotationJobStore(vault.vault.db);
    const id = 'job_progress_test';
    await vault.vault.db.transaction((trx) => jobs.insert(trx, { id, kind: 'blind_index', params: { index_version: 99 }, total: 3, startedBy: 'test' }));

    await vault.vault.db.transaction((trx) => jobs.addProgress(trx, id, 2));
    expect(await jobs.find(id)).toMatchObject({ done: 2, total: 3 });
    // A row another instance wrote under the old key while the job ran, swept on its second pass.
    await vault.vault.db.transaction((trx) => jobs.addProgress(trx, id, 2));
    expect(await jobs.find(id)).toMatchObject({ done: 4, total: 4 });
  });
});
