import { startTestVault, type TestVault } from '../support/test-vault';
import { keyAdmin, waitForJob } from './support/rotation-helpers';

jest.setTimeout(60_000);

describe('automatic KEK rotation', () => {
  let vault: TestVault;
  afterAll(() => vault?.stop());

  it('starts a kek rotation by itself once the active generation has wrapped the configured number of keys', async () => {
    // The vault's own keys (signing, blind index) already reserve wraps at start: one is enough to trigger it.
    vault = await startTestVault({ PDVAULT_KEK_ROTATE_AFTER_WRAPS: '1', PDVAULT_ROTATION_POLL_MS: '100' });
    const admin = await keyAdmin(vault);
    let job: { id: string } | undefined;
    while (!job) {
      job = await vault.vault.db('rotation_jobs').where({ kind: 'kek', started_by: 'pdvault:schedule' }).first();
      if (!job) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await waitForJob(vault, admin, job.id)).toEqual(expect.objectContaining({ state: 'succeeded', started_by: 'pdvault:schedule' }));
    const generations = await vault.vault.db('kek_generations').select('id', 'state').orderBy('id');
    expect(generations).toEqual([
      { id: 1, state: 'retired' },
      { id: 2, state: 'active' },
    ]);
    const audited = await vault.vault.db('audit_events').where({ action: 'keys.rotation.start', target: job.id }).first();
    expect(audited).toEqual(expect.objectContaining({ client_id: 'pdvault:schedule', outcome: 'allowed' }));
  });
});
