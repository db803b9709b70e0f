import { AwsKmsProvider, backoffWithin } from '../../src/crypto/aws-kms-provider';
import { kekContext } from '../../src/crypto/kek-generations';
import { KeyProviderError } from '../../src/crypto/key-provider';
import { KmsServer, TEST_AWS_CREDENTIALS, TEST_KMS_REGION } from '../support/kms-server';
import { CryptoTestBed, errorCode } from './hierarchy-fixture';

let kms: KmsServer;
let bed: CryptoTestBed;
const providers: AwsKmsProvider[] = [];

/** The real SDK client, pointed at the loopback server. */
function awsProvider(overrides: { deadlineMs?: number; maxAttempts?: number; endpoint?: string } = {}): AwsKmsProvider {
  const provider = new AwsKmsProvider({
    keyId: kms.key.arn,
    region: TEST_KMS_REGION,
    endpoint: overrides.endpoint ?? kms.url,
    deadlineMs: overrides.deadlineMs ?? 10_000,
    maxAttempts: overrides.maxAttempts ?? 3,
    credentials: TEST_AWS_CREDENTIALS,
  });
  providers.push(provider);
  return provider;
}

beforeAll(async () => {
  kms = await KmsServer.start();
  bed = await CryptoTestBed.create();
});
afterEach(async () => {
  kms.setMode('normal');
  kms.throttle(0);
  if (!(await isListening())) await kms.resume();
  await bed.emptyKeyTables();
});
afterAll(async () => {
  for (const provider of providers) provider.close();
  await kms.close();
  await bed.close();
});

async function isListening(): Promise<boolean> {
  return fetch(kms.url, { method: 'POST' }).then(
    () => true,
    () => false,
  );
}

describe('the AWS KMS provider, through the real SDK', () => {
  it('generates a data key, decrypts it and re-encrypts it under another key', async () => {
    const provider = awsProvider();
    const context = kekContext(7);
    const dataKey = await provider.generateDataKey(context);
    expect(dataKey.plaintext).toHaveLength(32);
    expect(dataKey.providerKeyRef).toBe(kms.key.arn);
    expect((await provider.decryptDataKey(dataKey.wrapped, context, dataKey.providerKeyRef)).equals(dataKey.plaintext)).toBe(true);

    const rewrapped = await provider.reEncryptDataKey(dataKey.wrapped, context, dataKey.providerKeyRef);
    expect(rewrapped.wrapped.equals(dataKey.wrapped)).toBe(false);
    expect((await provider.decryptDataKey(rewrapped.wrapped, context, rewrapped.providerKeyRef)).equals(dataKey.plaintext)).toBe(true);
    expect(await provider.describe()).toEqual({ ok: true });
  });

  it('rejects a wrapped key presented with another encryption context as an invalid ciphertext', async () => {
    const provider = awsProvider();
    const dataKey = await provider.generateDataKey(kekContext(1));
    await expect(provider.decryptDataKey(dataKey.wrapped, kekContext(2))).rejects.toMatchObject({ reason: 'invalid_ciphertext' });
  });

  it('retries a throttled call inside the SDK and then succeeds', async () => {
    const provider = awsProvider({ maxAttempts: 3 });
    kms.throttle(2);
    const before = kms.count('GenerateDataKey');
    const dataKey = await provider.generateDataKey(kekContext(1));
    expect(dataKey.plaintext).toHaveLength(32);
    expect(kms.calls.slice(-3).map((c) => c.outcome)).toEqual(['ThrottlingException', 'ThrottlingException', 'ok']);
    expect(kms.count('GenerateDataKey') - before).toBe(3);
  });

  it('fits its retries of throttled calls inside the deadline: twice throttled under a 1-second deadline, it still succeeds', async () => {
    // The SDK's own waits after a throttle start at up to a second and double: they would outlast it.
    const provider = awsProvider({ deadlineMs: 1000, maxAttempts: 3 });
    kms.throttle(2);
    const dataKey = await provider.generateDataKey(kekContext(1));
    expect(dataKey.plaintext).toHaveLength(32);
    expect(kms.calls.slice(-3).map((c) => c.outcome)).toEqual(['ThrottlingException', 'ThrottlingException', 'ok']);
  });

  it('waits between attempts at most half the deadline in all, whatever the jitter draws', () => {
    const random = jest.spyOn(Math, 'random').mockReturnValue(0.999999);
    try {
      for (const settings of [{ deadlineMs: 1000, maxAttempts: 3 }, { deadlineMs: 3000, maxAttempts: 5 }, { deadlineMs: 200, maxAttempts: 2 }]) {
        const waits = Array.from({ length: settings.maxAttempts - 1 }, (_, i) => backoffWithin(settings, i + 1));
        expect(waits.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(settings.deadlineMs / 2);
        expect(waits[0]).toBeGreaterThan(0);
      }
    } finally {
      random.mockRestore();
    }
  });

  it('gives up after its attempt limit when throttling goes on, as unavailable', async () => {
    const provider = awsProvider({ maxAttempts: 2 });
    kms.throttle(5);
    await expect(provider.generateDataKey(kekContext(1))).rejects.toMatchObject({ reason: 'unavailable' });
  });

  it.each([
    ['disabled', 'DisabledException'],
    ['invalid_state', 'KMSInvalidStateException'],
    ['deny', 'AccessDeniedException'],
  ] as const)('reports a key that is %s as a refusal, without retrying', async (mode, type) => {
    const provider = awsProvider();
    kms.setMode(mode);
    const before = kms.count();
    const error = await provider.generateDataKey(kekContext(1)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyProviderError);
    expect(error).toMatchObject({ reason: 'denied' });
    expect((error as Error).message).toContain(type);
    expect(kms.count() - before).toBe(1);
  });

  it('reports a disabled key as not ready', async () => {
    kms.setMode('disabled');
    expect(await awsProvider().describe()).toEqual({ ok: false, detail: 'KMS key state Disabled' });
  });
});

describe('the key hierarchy on AWS KMS', () => {
  it('seals and opens values, with KMS called only to create and unwrap the KEK generation', async () => {
    const keys = bed.hierarchy({ provider: awsProvider() });
    const before = kms.count();
    await keys.createSubjectKey('sub_kms');
    const sealed = await keys.seal('sub_kms', 'email', 'a@example.com');
    expect((await keys.open('sub_kms', 'email', sealed)).toString()).toBe('a@example.com');
    expect(kms.calls.slice(before).map((c) => c.operation)).toEqual(['GenerateDataKey']);

    const restarted = bed.hierarchy({ provider: awsProvider() });
    expect((await restarted.open('sub_kms', 'email', sealed)).toString()).toBe('a@example.com');
    expect(kms.calls.slice(before).map((c) => c.operation)).toEqual(['GenerateDataKey', 'Decrypt']);
  });

  it('sends an encryption context of non-secret ids on every call that carries a key', async () => {
    const before = kms.calls.length;
    const keys = bed.hierarchy({ provider: awsProvider() });
    await keys.createSubjectKey('sub_ctx');
    const sealed = await keys.sealSecret('blind_index_key', 'bik_1', Buffer.alloc(32, 7));
    await bed.hierarchy({ provider: awsProvider() }).openSecret('blind_index_key', 'bik_1', sealed);
    const provider = awsProvider();
    const generation = await bed.db('kek_generations').first();
    await provider.reEncryptDataKey(generation.wrapped_key, kekContext(generation.id), generation.provider_key_ref);

    const keyCalls = kms.calls.slice(before).filter((c) => c.operation !== 'DescribeKey');
    expect(keyCalls.map((c) => c.operation).sort()).toEqual(expect.arrayContaining(['Decrypt', 'GenerateDataKey', 'ReEncrypt']));
    for (const call of keyCalls) {
      const contexts = call.operation === 'ReEncrypt' ? [call.sourceEncryptionContext, call.destinationEncryptionContext] : [call.encryptionContext];
      for (const context of contexts) {
        expect(context).toEqual({ 'pdvault:purpose': 'kek-generation', 'pdvault:kek-generation': String(generation.id) });
      }
    }
  });

  it.each(['disabled', 'invalid_state', 'deny'] as const)('answers 503 kms_unavailable when the key is %s, writing nothing', async (mode) => {
    const keys = bed.hierarchy({ provider: awsProvider() });
    kms.setMode(mode);
    const error = await keys.createSubjectKey('sub_refused').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'kms_unavailable', status: 503 });
    expect(await bed.db('kek_generations').count<{ count: string }[]>('* as count')).toEqual([{ count: '0' }]);
    expect(await bed.db('subject_keys').count<{ count: string }[]>('* as count')).toEqual([{ count: '0' }]);
  });

  it('answers 503 kms_unavailable when the endpoint is unreachable, after its bounded retries', async () => {
    const keys = bed.hierarchy({ provider: awsProvider({ deadlineMs: 3000, maxAttempts: 2 }) });
    await kms.stop();
    expect(await errorCode(keys.createSubjectKey('sub_unreachable'))).toBe('kms_unavailable');
    expect(await bed.db('subject_keys').count<{ count: string }[]>('* as count')).toEqual([{ count: '0' }]);
  });

  it('answers 503 kms_unavailable when KMS stalls, once the deadline passes', async () => {
    const keys = bed.hierarchy({ provider: awsProvider({ deadlineMs: 300, maxAttempts: 3 }) });
    kms.setMode('stall');
    const error = await keys.sealSecret('jwt_signing_key', 'k1', Buffer.alloc(8)).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'kms_unavailable', status: 503 });
    expect((error as { detail: string }).detail).toContain('deadline');
    expect(await bed.db('kek_generations').count<{ count: string }[]>('* as count')).toEqual([{ count: '0' }]);
  });
});
