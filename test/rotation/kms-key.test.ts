import { startVault } from '../../src/cli/vault';
import { eventually } from '../support/eventually';
import { KmsServer, kmsEnv } from '../support/kms-server';
import { startTestVault, type TestVault } from '../support/test-vault';
import type { Caller } from '../policy/support/principals';
import { accountService, bearer, keyAdmin, subjectBody, waitForJob } from './support/rotation-helpers';

jest.setTimeout(60_000);

describe('KMS key rotation against the KMS protocol', () => {
  let kms: KmsServer;
  let vault: TestVault;
  let admin: Caller;
  let account: Caller;
  const subjects: Array<{ id: string; email: string }> = [];
  let rotatedTo: string | undefined;
  let rotatedId: string | undefined;

  beforeAll(async () => {
    kms = await KmsServer.start();
    vault = await startTestVault({ ...kmsEnv(kms), PDVAULT_ROTATION_POLL_MS: '100' });
    admin = await keyAdmin(vault);
    account = await accountService(vault);
    for (let n = 0; n < 5; n++) {
      const res = await vault.post('/v1/subjects').set('Authorization', bearer(account)).send(subjectBody(n)).expect(201);
      subjects.push({ id: res.body.id, email: subjectBody(n).email });
    }
  });
  afterAll(async () => {
    await vault?.stop();
    await kms?.close();
  });

  const rotate = (body: Record<string, unknown>) => vault.post('/v1/admin/keys/rotations').set('Authorization', bearer(admin)).send(body);

  it('refuses a new KMS key that DescribeKey does not find usable', async () => {
    const refused = await rotate({ kind: 'kms_key', kms_key_id: 'arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000' }).expect(409);
    expect(refused.body.code).toBe('kms_key_unusable');
  });

  it('re-encrypts every KEK generation under the new key with ReEncrypt, leaving nothing under the old one', async () => {
    // Two generations, so more than one wrapped key moves.
    expect((await waitForJob(vault, admin, (await rotate({ kind: 'kek' }).expect(202)).body.job_id)).state).toBe('succeeded');
    const next = kms.createKey();
    const calls = kms.calls.length;
    const started = await rotate({ kind: 'kms_key', kms_key_id: next.id }).expect(202);
    const job = await waitForJob(vault, admin, started.body.job_id);
    expect(job).toEqual(expect.objectContaining({ state: 'succeeded', done: 2, total: 2 }));
    const made = kms.calls.slice(calls);
    expect(made.filter((c) => c.operation === 'ReEncrypt' && c.outcome === 'ok')).toHaveLength(2);
    // The KEKs never left KMS in plaintext for this: no Decrypt or GenerateDataKey was needed.
    expect(made.filter((c) => c.operation === 'Decrypt' || c.operation === 'GenerateDataKey')).toEqual([]);
    const inventory = (await vault.get('/v1/admin/keys').set('Authorization', bearer(admin)).expect(200)).body;
    expect(inventory.kms_keys).toEqual([{ key_ref: next.arn, current: true, kek_generations: 2 }]);
    for (const subject of subjects) {
      const res = await vault.get(`/v1/subjects/${subject.id}`).set('Authorization', bearer(account)).expect(200);
      expect(res.body.email).toBe(subject.email);
    }
    // New generations are made under the new key too.
    expect((await waitForJob(vault, admin, (await rotate({ kind: 'kek' }).expect(202)).body.job_id)).state).toBe('succeeded');
    expect(kms.calls.filter((c) => c.operation === 'GenerateDataKey').at(-1)?.keyId).toBe(next.arn);
    rotatedTo = next.arn;
    rotatedId = next.id;
  });

  it('says at start that PDVAULT_KMS_KEY_ID names a key a rotation has moved from, and makes new generations under the rotated key', async () => {
    const lines: string[] = [];
    // Another instance, configured as the first was, with the first KMS key.
    const config = structuredClone(vault.config);
    config.http.port = 0;
    const second = await startVault(config, { logDestination: { write: (line: string) => lines.push(line) > 0 } as never });
    try {
      await eventually(() => lines.some((line) => line.includes('PDVAULT_KMS_KEY_ID')), 'the warning');
      const warning = JSON.parse(lines.find((line) => line.includes('PDVAULT_KMS_KEY_ID'))!) as Record<string, unknown>;
      expect(warning).toMatchObject({ level: 'warn', kms_key: rotatedTo });
      expect(second.keys.providerKeyRef()).toBe(rotatedTo);
    } finally {
      await second.stop();
    }
  });

  it('says nothing when PDVAULT_KMS_KEY_ID names the key the rotation moved to, by its id rather than its ARN', async () => {
    const lines: string[] = [];
    const config = structuredClone(vault.config);
    config.http.port = 0;
    config.keys.kms.keyId = rotatedId;
    expect(rotatedId).not.toBe(rotatedTo);
    const third = await startVault(config, { logDestination: { write: (line: string) => lines.push(line) > 0 } as never });
    try {
      // Past the first poll, which is where the setting is checked.
      // The first poll adopts the key by its ARN, checking the setting as it does.
      await eventually(() => third.keys.providerKeyRef() === rotatedTo, 'the first poll');
      expect(lines.filter((line) => line.includes('PDVAULT_KMS_KEY_ID'))).toEqual([]);
    } finally {
      await third.stop();
    }
  });
});
