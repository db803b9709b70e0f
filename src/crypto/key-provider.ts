/**
 * The port to whatever protects the top of the hierarchy: AWS KMS in production, a local
 * keyring file in development. Everything it returns in plaintext is a data key the caller
 * must zero when done with.
 */

/** Non-secret ids that the provider binds to a wrapped key (KMS "encryption context"). */
export type EncryptionContext = Readonly<Record<string, string>>;

export interface GeneratedDataKey {
  plaintext: Buffer;
  wrapped: Buffer;
  /** The provider's name for the key that wrapped it (a KMS key ARN, `local:v<n>`). */
  providerKeyRef: string;
}

export interface RewrappedDataKey {
  wrapped: Buffer;
  providerKeyRef: string;
}

export interface ProviderStatus {
  ok: boolean;
  detail?: string;
}

export type ProviderOperation = 'generate_data_key' | 'decrypt' | 're_encrypt' | 'describe_key';

export interface KeyProvider {
  readonly name: 'aws' | 'local';
  /** A fresh 256-bit data key, in plaintext and wrapped under the provider's current key. */
  generateDataKey(context: EncryptionContext): Promise<GeneratedDataKey>;
  /** `providerKeyRef`, when known, pins the key that must have wrapped it. */
  decryptDataKey(wrapped: Buffer, context: EncryptionContext, providerKeyRef?: string): Promise<Buffer>;
  /** Re-wraps under the provider's current key without the plaintext leaving the provider. */
  reEncryptDataKey(wrapped: Buffer, context: EncryptionContext, providerKeyRef?: string): Promise<RewrappedDataKey>;
  /** Whether the provider's key can be used now (readiness). */
  describe(): Promise<ProviderStatus>;
  /** Releases connections (shutdown). */
  close?(): void;
  /**
   * KMS key rotation: whether `keyId` (or, unset, a fresh key the provider makes itself, as the
   * local keyring does) is enabled and usable, and its canonical reference (the ARN).
   */
  describeKey?(keyId: string | undefined): Promise<ProviderKeyDescription>;
  /** From now on, new and re-encrypted data keys are wrapped under `keyRef`. */
  useKey?(keyRef: string): void;
  /** The reference of the key new data keys are wrapped under now. */
  currentKeyRef?(): string;
}

export interface ProviderKeyDescription {
  usable: boolean;
  keyRef: string;
  /** Why not usable: the key state, never key material. */
  detail?: string;
}

/**
 * Why a provider call failed, in the three ways the hierarchy treats differently:
 * - `unavailable`: the provider could not answer in time (network, throttling, outage); cached keys stay usable.
 * - `denied`: the provider answered no (key disabled, access denied, invalid key state); cached keys are dropped.
 * - `invalid_ciphertext`: the wrapped key or its context was altered; an integrity failure.
 */
export type ProviderFailureReason = 'unavailable' | 'denied' | 'invalid_ciphertext';

export class KeyProviderError extends Error {
  override name = 'KeyProviderError';
  constructor(
    readonly reason: ProviderFailureReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
