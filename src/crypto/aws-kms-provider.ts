import { ConfiguredRetryStrategy } from '@smithy/util-retry';
import {
  DecryptCommand,
  DescribeKeyCommand,
  GenerateDataKeyCommand,
  KMSClient,
  ReEncryptCommand,
  type KMSClientConfig,
} from '@aws-sdk/client-kms';
import { KEY_BYTES } from './aes-gcm';
import { KeyProviderError, type EncryptionContext, type GeneratedDataKey, type KeyProvider, type ProviderKeyDescription, type ProviderStatus, type RewrappedDataKey } from './key-provider';

export interface AwsKmsSettings {
  /** Key id, ARN or alias of the KMS key that wraps KEK generations. */
  keyId: string;
  /** Unset: the SDK's standard chain (AWS_REGION, shared config). */
  region?: string;
  /** Unset: the public KMS endpoint of the region. */
  endpoint?: string;
  /** Whole time one operation may take, retries included. */
  deadlineMs: number;
  /** Attempts per operation, the first included (the SDK's retry strategy backs off between them). */
  maxAttempts: number;
  /** Tests only: static credentials. Unset, the SDK's standard credential chain is used. */
  credentials?: KMSClientConfig['credentials'];
}

// First wait between attempts before jitter; it doubles each time, up to the cap backoffWithin sets.
const BACKOFF_BASE_MS = 100;

/**
 * The wait before retry number `retry` (1 for the first), with full jitter. The SDK's own waits for a
 * throttled call start at a second and double, so a retry could still be waiting when the
 * deadline aborts the operation; here all the waits together take at most half the deadline,
 * leaving the other half for the attempts themselves.
 */
export function backoffWithin(settings: Pick<AwsKmsSettings, 'deadlineMs' | 'maxAttempts'>, retry: number): number {
  const cap = settings.deadlineMs / 2 / Math.max(1, settings.maxAttempts - 1);
  return Math.floor(Math.random() * Math.min(cap, BACKOFF_BASE_MS * 2 ** Math.max(0, retry - 1)));
}

// The provider said no: retrying will not help, and cached keys must stop being used.
const DENIED = new Set(['AccessDeniedException', 'DisabledException', 'KMSInvalidStateException', 'NotFoundException', 'InvalidKeyUsageException', 'UnrecognizedClientException']);
const INVALID_CIPHERTEXT = new Set(['InvalidCiphertextException', 'IncorrectKeyException']);

/** AWS KMS behind the provider port. The KMS client is built here, never handed in, so tests exercise the real SDK. */
export class AwsKmsProvider implements KeyProvider {
  readonly name = 'aws' as const;
  private readonly client: KMSClient;
  // The key new data keys are wrapped under: the configured one until a KMS key rotation moves it.
  private keyId: string;

  constructor(private readonly settings: AwsKmsSettings) {
    this.keyId = settings.keyId;
    this.client = new KMSClient({
      ...(settings.region ? { region: settings.region } : {}),
      ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
      ...(settings.credentials ? { credentials: settings.credentials } : {}),
      retryStrategy: new ConfiguredRetryStrategy(settings.maxAttempts, (retry) => backoffWithin(settings, retry)),
      // Per-attempt socket bounds; the abort signal below bounds the whole operation.
      requestHandler: { connectionTimeout: Math.min(settings.deadlineMs, 2000), requestTimeout: settings.deadlineMs },
    });
  }

  async generateDataKey(context: EncryptionContext): Promise<GeneratedDataKey> {
    const out = await this.call('GenerateDataKey', (signal) =>
      this.client.send(new GenerateDataKeyCommand({ KeyId: this.keyId, KeySpec: 'AES_256', EncryptionContext: { ...context } }), { abortSignal: signal }),
    );
    if (!out.Plaintext || out.Plaintext.length !== KEY_BYTES || !out.CiphertextBlob || !out.KeyId) {
      throw new KeyProviderError('unavailable', 'GenerateDataKey returned an incomplete answer');
    }
    return { plaintext: Buffer.from(out.Plaintext), wrapped: Buffer.from(out.CiphertextBlob), providerKeyRef: out.KeyId };
  }

  async decryptDataKey(wrapped: Buffer, context: EncryptionContext, providerKeyRef?: string): Promise<Buffer> {
    const out = await this.call('Decrypt', (signal) =>
      this.client.send(
        new DecryptCommand({ CiphertextBlob: wrapped, EncryptionContext: { ...context }, KeyId: providerKeyRef ?? this.keyId }),
        { abortSignal: signal },
      ),
    );
    if (!out.Plaintext || out.Plaintext.length !== KEY_BYTES) throw new KeyProviderError('invalid_ciphertext', 'Decrypt returned a key of the wrong size');
    return Buffer.from(out.Plaintext);
  }

  async reEncryptDataKey(wrapped: Buffer, context: EncryptionContext, providerKeyRef?: string): Promise<RewrappedDataKey> {
    const out = await this.call('ReEncrypt', (signal) =>
      this.client.send(
        new ReEncryptCommand({
          CiphertextBlob: wrapped,
          SourceEncryptionContext: { ...context },
          ...(providerKeyRef ? { SourceKeyId: providerKeyRef } : {}),
          DestinationKeyId: this.keyId,
          DestinationEncryptionContext: { ...context },
        }),
        { abortSignal: signal },
      ),
    );
    if (!out.CiphertextBlob || !out.KeyId) throw new KeyProviderError('unavailable', 'ReEncrypt returned an incomplete answer');
    return { wrapped: Buffer.from(out.CiphertextBlob), providerKeyRef: out.KeyId };
  }

  async describe(): Promise<ProviderStatus> {
    const out = await this.call('DescribeKey', (signal) =>
      this.client.send(new DescribeKeyCommand({ KeyId: this.keyId }), { abortSignal: signal }),
    );
    const state = out.KeyMetadata?.KeyState;
    return state === 'Enabled' ? { ok: true } : { ok: false, detail: `KMS key state ${state ?? 'unknown'}` };
  }

  async describeKey(keyId: string | undefined): Promise<ProviderKeyDescription> {
    if (!keyId) throw new KeyProviderError('denied', 'a KMS key rotation names the new KMS key id');
    const out = await this.call('DescribeKey', (signal) => this.client.send(new DescribeKeyCommand({ KeyId: keyId }), { abortSignal: signal }));
    const meta = out.KeyMetadata;
    const usable = meta?.KeyState === 'Enabled' && (meta.KeyUsage === undefined || meta.KeyUsage === 'ENCRYPT_DECRYPT') && (meta.KeySpec === undefined || meta.KeySpec === 'SYMMETRIC_DEFAULT');
    return { usable, keyRef: meta?.Arn ?? keyId, ...(usable ? {} : { detail: `KMS key state ${meta?.KeyState ?? 'unknown'}, usage ${meta?.KeyUsage ?? 'unknown'}` }) };
  }

  useKey(keyRef: string): void {
    this.keyId = keyRef;
  }

  currentKeyRef(): string {
    return this.keyId;
  }

  close(): void {
    this.client.destroy();
  }

  /** One SDK operation under the deadline; any failure becomes a KeyProviderError saying which kind it is. */
  private async call<T>(operation: string, send: (signal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await send(AbortSignal.timeout(this.settings.deadlineMs));
    } catch (error) {
      throw classify(error, operation);
    }
  }
}

function classify(error: unknown, operation: string): KeyProviderError {
  const name = error instanceof Error ? error.name : 'unknown';
  if (DENIED.has(name)) return new KeyProviderError('denied', `${operation} refused by KMS (${name})`, { cause: error });
  if (INVALID_CIPHERTEXT.has(name)) return new KeyProviderError('invalid_ciphertext', `${operation} rejected the ciphertext (${name})`, { cause: error });
  if (name === 'AbortError' || name === 'TimeoutError') {
    return new KeyProviderError('unavailable', `${operation} did not complete within the deadline`, { cause: error });
  }
  return new KeyProviderError('unavailable', `${operation} failed (${name})`, { cause: error });
}
