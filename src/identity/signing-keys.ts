import crypto, { type KeyObject } from 'node:crypto';
import type { Knex } from 'knex';
import type { IdentitySettings } from '../config/config';
import type { SigningKeyStore, StoredSigningKey } from '../store/signing-keys';
import { KID_PATTERN, newKid } from './ids';
import { SIGNING_KEY_KIND, type SecretSealer } from './secret-sealer';

export type SigningAlgorithm = IdentitySettings['tokenAlgorithm'];
export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ['ES256', 'EdDSA'];

/** A key as it is stored: the private half sealed. */
export type NewSigningKey = Omit<StoredSigningKey, 'state' | 'createdAt' | 'retiredAt'>;

export interface ActiveSigningKey {
  kid: string;
  algorithm: SigningAlgorithm;
  privateKey: KeyObject;
}

export interface VerificationKey {
  kid: string;
  algorithm: SigningAlgorithm;
  publicKey: KeyObject;
}

export interface PublicJwk extends Record<string, unknown> {
  kid: string;
  alg: string;
  use: 'sig';
}

/** How long the signer keeps using the key it loaded before asking the database again. */
const SIGNER_REFRESH_MS = 60_000;
/** Unknown-but-well-formed kids reload the published keys at most this often, per instance. */
const RELOAD_INTERVAL_MS = 1_000;

/**
 * The vault's JWT signing keys. The private half of each is generated here, sealed under the key
 * hierarchy at once, and opened only into a KeyObject in memory; the
 * DER bytes are zeroed after import. Retired keys stay published until every token they may
 * have signed has expired.
 */
export class SigningKeyRing {
  private signer?: { key: ActiveSigningKey; loadedAt: number };
  private verification = new Map<string, VerificationKey>();
  private verificationLoadedAt = 0;

  constructor(
    private readonly store: SigningKeyStore,
    private readonly sealer: SecretSealer,
    private readonly settings: IdentitySettings,
  ) {}

  /** Loads the active key ahead of the first token request (creating it on a vault's first start). */
  async start(): Promise<void> {
    await this.activeKey();
    await this.reloadVerificationKeys();
  }

  async activeKey(): Promise<ActiveSigningKey> {
    if (this.signer && Date.now() - this.signer.loadedAt < SIGNER_REFRESH_MS) return this.signer.key;
    let stored = await this.store.active();
    if (!stored) {
      // The first instance to get here creates the key; the others find theirs refused and read it.
      await this.store.activate(await this.newKey(), true);
      stored = await this.store.active();
      if (!stored) throw new Error('no active signing key');
      await this.reloadVerificationKeys();
    }
    if (this.signer?.key.kid !== stored.kid) this.signer = { key: await this.open(stored), loadedAt: Date.now() };
    else this.signer.loadedAt = Date.now();
    return this.signer.key;
  }

  /** A new active key; the previous one is retired but stays published while its tokens live. */
  async rotate(): Promise<string> {
    const key = await this.newKey();
    await this.activateWithin(key);
    await this.activated();
    return key.kid;
  }

  /** Stores `key` as the active key, retiring the previous one, inside `db` (a rotation job's transaction) when given. */
  async activateWithin(key: NewSigningKey, db?: Knex): Promise<void> {
    await this.store.activate(key, false, db);
  }

  /** After the new key is committed: this instance signs with it and publishes it at once. */
  async activated(): Promise<void> {
    this.signer = undefined;
    await this.reloadVerificationKeys();
  }

  /** The key a token names, if it is one of the vault's own published keys. */
  async verificationKey(kid: string): Promise<VerificationKey | undefined> {
    if (!KID_PATTERN.test(kid)) return undefined;
    const known = this.verification.get(kid);
    if (known || Date.now() - this.verificationLoadedAt < RELOAD_INTERVAL_MS) return known;
    await this.reloadVerificationKeys();
    return this.verification.get(kid);
  }

  async publishedJwks(): Promise<{ keys: PublicJwk[] }> {
    const keys = await this.store.published(this.retiredSince());
    return { keys: keys.map((key) => key.publicJwk as PublicJwk) };
  }

  private async reloadVerificationKeys(): Promise<void> {
    const keys = await this.store.published(this.retiredSince());
    this.verification = new Map(
      keys.map((key) => [
        key.kid,
        { kid: key.kid, algorithm: key.algorithm as SigningAlgorithm, publicKey: crypto.createPublicKey({ key: key.publicJwk as crypto.JsonWebKey, format: 'jwk' }) },
      ]),
    );
    this.verificationLoadedAt = Date.now();
  }

  /** Retired keys signed tokens for up to the longest lifetime (plus skew and the signer's refresh) after retirement. */
  private retiredSince(): Date {
    const lingerMs = (900 + this.settings.clockSkewSeconds) * 1000 + SIGNER_REFRESH_MS;
    return new Date(Date.now() - lingerMs);
  }

  /** A new key pair, its private half sealed (which may take a pooled connection); not yet stored. */
  async newKey(): Promise<NewSigningKey> {
    const algorithm = this.settings.tokenAlgorithm;
    const kid = newKid();
    const pair = algorithm === 'EdDSA' ? crypto.generateKeyPairSync('ed25519') : crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const der = pair.privateKey.export({ format: 'der', type: 'pkcs8' });
    try {
      const sealedPrivateKey = await this.sealer.sealSecret(SIGNING_KEY_KIND, kid, der);
      const publicJwk: PublicJwk = { ...pair.publicKey.export({ format: 'jwk' }), kid, alg: algorithm, use: 'sig' };
      return { kid, algorithm, publicJwk, sealedPrivateKey };
    } finally {
      der.fill(0);
    }
  }

  private async open(stored: StoredSigningKey): Promise<ActiveSigningKey> {
    const der = await this.sealer.openSecret(SIGNING_KEY_KIND, stored.kid, stored.sealedPrivateKey);
    try {
      const privateKey = crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
      return { kid: stored.kid, algorithm: stored.algorithm as SigningAlgorithm, privateKey };
    } finally {
      der.fill(0);
    }
  }
}
