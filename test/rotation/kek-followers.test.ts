import { runCli } from '../support/cli-process';
import { productionEnv, startTestVault, testCertificate, type TestVault } from '../support/test-vault';
import { adminCaller, type Caller } from '../policy/support/principals';
import { insertSubjects } from './support/bulk-subjects';
import { bearer, keyAdmin, waitForJob } from './support/rotation-helpers';

jest.setTimeout(120_000);

let vault: TestVault;
let admin: Caller;
const startWithPoll = (pollMs: string) => async () => {
  vault = await startTestVault({ PDVAULT_ROTATION_POLL_MS: pollMs });
  admin = await keyAdmin(vault);
};
const stopVault = async () => {
  const running = vault;
  vault = undefined as unknown as TestVault;
  await running?.stop();
};

const inventory = async () => (await vault.get('/v1/admin/keys').set('Authorization', bearer(admin)).expect(200)).body;
const generationOfKeys = (subjectIds: string[]) => vault.vault.db('subject_keys').whereIn('subject_id', subjectIds).distinct().pluck('kek_generation_id');

describe('a KEK rotation from the command line beside a running vault', () => {
  // Its rotation runner looks for jobs once a minute: it does not see the command line's job.
  beforeAll(startWithPoll('60000'));
  afterAll(stopVault);

  it("moves the vault's new keys to the new generation, though the vault never sees the job running", async () => {
    // The vault holds a reservation of wraps under the active generation.
    const before = await insertSubjects(vault.vault, 3);
    const [first] = await generationOfKeys(before.map((s) => s.id));

    const tls = await testCertificate();
    const env = { ...productionEnv({ dataDir: vault.config.dataDir, certFile: tls.certFile, keyFile: tls.keyFile, databaseUrl: vault.database.url }), PDVAULT_ROTATION_POLL_MS: '100' };
    const run = runCli(['keys', 'rotate', '--kind', 'kek'], env);
    expect((await run.exited).code).toBe(0);
    expect(JSON.parse(run.stdout())).toEqual(expect.objectContaining({ kind: 'kek', state: 'succeeded' }));

    const after = await insertSubjects(vault.vault, 3);
    const generations = (await inventory()).kek_generations;
    const active = generations.find((g: { status: string }) => g.status === 'active');
    expect(active.id).not.toBe(first);
    expect(await generationOfKeys(after.map((s) => s.id))).toEqual([active.id]);
    expect(generations.find((g: { id: number }) => g.id === first)).toEqual(expect.objectContaining({ status: 'retired', subject_keys: 0 }));
  });
});

describe('the audit checkpoint key across a KEK rotation and the destruction of the old generation', () => {
  beforeAll(startWithPoll('100'));
  afterAll(stopVault);

  it('is replaced by a key sealed under the new generation, which goes on signing once the old one is destroyed', async () => {
    const checkpoints = vault.vault.audit.checkpoints;
    await auditedEvent();
    const signed = await checkpoints.signNow();
    const keyBefore = signed!.kid;
    const sealedUnder = async (kid: string) => {
      const row = await vault.vault.db('audit_checkpoint_keys').where({ kid }).first();
      return vault.vault.keys.secretGeneration(row.sealed_private_key);
    };
    const oldGeneration = await sealedUnder(keyBefore);

    const started = await vault.post('/v1/admin/keys/rotations').set('Authorization', bearer(admin)).send({ kind: 'kek' }).expect(202);
    expect(await waitForJob(vault, admin, started.body.job_id)).toEqual(expect.objectContaining({ state: 'succeeded' }));
    const keys = await vault.vault.db('audit_checkpoint_keys').orderBy('created_at').pluck('kid');
    const keyAfter = keys.at(-1)!;
    expect(keyAfter).not.toBe(keyBefore);
    expect(await sealedUnder(keyAfter)).toBeGreaterThan(oldGeneration);
    expect((await inventory()).kek_generations.find((g: { id: number }) => g.id === oldGeneration)).toEqual(
      expect.objectContaining({ status: 'retired', subject_keys: 0, vault_secrets: 0 }),
    );

    await vault.post(`/v1/admin/keys/kek-generations/${oldGeneration}/destruction`).set('Authorization', bearer(admin)).expect(202);
    const second = await keyAdmin(vault);
    await vault.post(`/v1/admin/keys/kek-generations/${oldGeneration}/destruction/approve`).set('Authorization', bearer(second)).expect(200);

    await auditedEvent();
    expect((await checkpoints.signNow())!.kid).toBe(keyAfter);
    expect(await vault.vault.db('audit_checkpoint_keys').pluck('kid')).toHaveLength(keys.length);
    expect(vault.logs.join('\n')).not.toContain('cannot open the audit checkpoint key');
    const verified = await vault.get('/v1/admin/audit/verify').set('Authorization', bearer(await adminCaller(vault, ['audit:read']))).expect(200);
    expect(verified.body).toEqual(expect.objectContaining({ ok: true }));
  });
});

/** A refused token request: an audit event, committed before its answer. */
const auditedEvent = () => vault.post('/oauth/token').type('form').send({ grant_type: 'client_credentials', client_id: 'cli_AAAAAAAAAAAAAAAA', client_secret: 'x' }).expect(401);
