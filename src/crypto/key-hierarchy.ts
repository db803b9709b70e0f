import crypto from 'node:crypto';
import type { Knex } from 'knex';
import { VaultError } from '../errors/vault-error';
import type { Logger } from '../observability/logger';
import { KekGenerationStore } from '../store/kek-generations';
import { SubjectKeyExists, SubjectKeyStore } from '../store/subject-keys';
import { AuthenticationFailed, KEY_BYTES, openWithKey, sealWithKey } from './aes-gcm';
import { MalformedCiphertext, parseCiphertext, SealedKind } from './ciphertext-format';
import { KekCache } from './kek-cache';
import { KekGenerations } from './kek-generations';
import { integrityError, subjectKeyExists, subjectKeyNotFound } from './key-errors';
import { KeyProviderError, type KeyProvider } from './key-provider';
import { NO_KEY_METRICS, type KeyMetrics } from './key-metrics';
import { instrumentProvider } from './instrumented-provider';
import type { Sealed } from './sealed';
import { SubjectKeyCache, zero, zeroEntrySoon, type SubjectKeys } from './subject-key-cache';

export interface KeyHierarchySettings {
  /** A cached unwrapped KEK is re-confirmed with the provider after this long. */
  kekCacheMaxAgeMs: number;
  /** How long past its maximum age a cached KEK keeps serving reads while the provider is unreachable. */
  kekCacheStaleMs: number;
  /** Wraps one KEK generation takes before it is retired for new wraps. */
  kekMaxWraps: number;
  /** Most subjects whose unwrapped keys are held in memory. */
  subjectKeyCacheSize: number;
}

export interface KeyHierarchyDependencies {
  db: Knex;
  provider: KeyProvider;
  logger: Logger;
  metrics?: KeyMetrics;
  /** Milliseconds clock for cache ages; tests move it instead of waiting. */
  now?: () => number;
}

const FIRST_SUBJECT_KEY_VERSION = 1;
// AAD bindings are length-prefixed with 16 bits; ids and names are far shorter in practice.
const MAX_BINDING_LENGTH = 1024;

/**
 * The vault's one encryption choke point (DESIGN.md, "Keys"): provider key → KEK generations
 * → subject keys → field values. Every personal value is sealed here, bound to its subject,
 * field and key; nothing else in the vault holds a key.
 */
export class KeyHierarchy {
  private readonly provider: KeyProvider;
  private readonly subjectKeyStore: SubjectKeyStore;
  private readonly keks: KekCache;
  private readonly generations: KekGenerations;
  private readonly subjectKeys: SubjectKeyCache;
  private readonly metrics: KeyMetrics;
  private readonly loading = new Map<string, Promise<SubjectKeys>>();
  // Bumped by every destroy: a load that started before a destroy must not put the shredded key back.
  private destroyEpoch = 0;

  constructor(settings: KeyHierarchySettings, deps: KeyHierarchyDependencies) {
    this.metrics = deps.metrics ?? NO_KEY_METRICS;
    this.provider = instrumentProvider(deps.provider, this.metrics);
    this.subjectKeyStore = new SubjectKeyStore(deps.db);
    const kekStore = new KekGenerationStore(deps.db);
    this.keks = new KekCache(
      (id) => this.generations.unwrap(id),
      { maxAgeMs: settings.kekCacheMaxAgeMs, staleMs: settings.kekCacheStaleMs, maxEntries: 64, now: deps.now ?? Date.now },
      this.metrics,
      deps.logger,
    );
    this.generations = new KekGenerations(kekStore, this.provider, this.keks, settings.kekMaxWraps, deps.logger);
    this.subjectKeys = new SubjectKeyCache(settings.subjectKeyCacheSize);
  }

  /** Makes sure a KEK generation exists and is unwrapped, so the first request does not pay for it. */
  async warmUp(): Promise<void> {
    const id = await this.generations.ensureActive();
    await this.keks.forWrap(id);
  }

  /** A random 256-bit key for a new subject, wrapped by the active KEK generation. */
  async createSubjectKey(subjectId: string, trx?: Knex.Transaction): Promise<void> {
    checkBinding(subjectId, 'subject id');
    const { generationId, kek } = await this.generations.takeWrap();
    const subjectKey = crypto.randomBytes(KEY_BYTES);
    const wrappedKey = sealWithKey(kek, SealedKind.SubjectKey, generationId, [subjectId], subjectKey);
    try {
      await this.subjectKeyStore.insert({ subjectId, version: FIRST_SUBJECT_KEY_VERSION, kekGenerationId: generationId, wrappedKey }, trx);
    } catch (error) {
      subjectKey.fill(0);
      if (error instanceof SubjectKeyExists) throw subjectKeyExists();
      throw error;
    }
    // Cached at once so the caller can seal inside its own transaction, before the key row is visible to others.
    this.subjectKeys.set(subjectId, { current: FIRST_SUBJECT_KEY_VERSION, keys: new Map([[FIRST_SUBJECT_KEY_VERSION, subjectKey]]), kekGenerationIds: [generationId] });
    // A rolled-back transaction takes the key row with it; drop the cached key too.
    trx?.executionPromise?.then(undefined, () => this.subjectKeys.delete(subjectId));
  }

  /** AES-256-GCM under the subject's current key, random 96-bit nonce, bound to subject and field. */
  async seal(subjectId: string, field: string, plaintext: Buffer | string): Promise<Sealed> {
    checkBinding(field, 'field name');
    const entry = await this.keysOf(subjectId);
    const bytes = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
    return sealWithKey(entry.keys.get(entry.current)!, SealedKind.FieldValue, entry.current, [subjectId, field], bytes);
  }

  /** The plaintext, or an `integrity_error` if anything about the ciphertext or its place changed. */
  async open(subjectId: string, field: string, sealed: Sealed): Promise<Buffer> {
    const version = headerOf(sealed, SealedKind.FieldValue).keyReference;
    let entry = await this.keysOf(subjectId);
    // A version this instance has not seen may have been added by another one: read again once.
    if (!entry.keys.has(version)) entry = await this.loadSubjectKeys(subjectId);
    const key = entry.keys.get(version);
    if (!key) throw integrityError('ciphertext names a subject-key version that does not exist');
    return authenticated(() => openWithKey(key, sealed, SealedKind.FieldValue, [subjectId, field]));
  }

  /** Crypto-shredding: the wrapped key is deleted and the cached one zeroed, so the subject's ciphertexts are unreadable. */
  async destroySubjectKey(subjectId: string, trx?: Knex.Transaction): Promise<void> {
    const shred = () => {
      this.destroyEpoch += 1;
      this.subjectKeys.delete(subjectId);
    };
    shred();
    await this.subjectKeyStore.deleteForSubject(subjectId, trx);
    shred();
    // Reads between now and the commit still see the row; drop whatever they cached once it is settled.
    trx?.executionPromise?.then(shred, shred);
  }

  /** A vault-internal secret (signing key, blind-index key...) sealed directly under the active KEK generation. */
  async sealSecret(kind: string, id: string, plaintext: Buffer): Promise<Sealed> {
    checkBinding(kind, 'secret kind');
    checkBinding(id, 'secret id');
    const { generationId, kek } = await this.generations.takeWrap();
    return sealWithKey(kek, SealedKind.VaultSecret, generationId, [kind, id], plaintext);
  }

  async openSecret(kind: string, id: string, sealed: Sealed): Promise<Buffer> {
    const generationId = headerOf(sealed, SealedKind.VaultSecret).keyReference;
    const kek = await this.keks.forRead(generationId);
    return authenticated(() => openWithKey(kek, sealed, SealedKind.VaultSecret, [kind, id]));
  }

  /** KMS key rotation: every KEK generation re-wrapped under the provider's current key (ReEncrypt). */
  rewrapKekGenerations(): Promise<number> {
    return this.generations.rewrapAll();
  }

  readinessCheck(): { name: string; check(): Promise<{ ok: boolean; detail?: string }> } {
    return {
      name: 'key_provider',
      check: async () => {
        try {
          return await this.provider.describe();
        } catch (error) {
          const denied = error instanceof KeyProviderError && error.reason === 'denied';
          return { ok: false, detail: denied ? 'key provider refused: key disabled or access denied' : 'key provider unreachable' };
        }
      },
    };
  }

  /** Zeroes every cached key and releases the provider (shutdown). */
  close(): void {
    this.subjectKeys.clear();
    this.keks.clear();
    this.provider.close?.();
  }

  /** The subject's keys from the cache, if the KEKs that unwrapped them are still usable; else from the store. */
  private async keysOf(subjectId: string): Promise<SubjectKeys> {
    const cached = this.subjectKeys.get(subjectId);
    if (cached && cached.kekGenerationIds.every((id) => this.keks.usableForRead(id))) {
      this.metrics.cacheHit('subject_key');
      return cached;
    }
    this.metrics.cacheMiss('subject_key');
    return this.loadSubjectKeys(subjectId);
  }

  private loadSubjectKeys(subjectId: string): Promise<SubjectKeys> {
    const running = this.loading.get(subjectId);
    if (running) return running;
    const loading = this.loadSubjectKeysOnce(subjectId).finally(() => this.loading.delete(subjectId));
    this.loading.set(subjectId, loading);
    return loading;
  }

  private async loadSubjectKeysOnce(subjectId: string): Promise<SubjectKeys> {
    const epoch = this.destroyEpoch;
    const rows = await this.subjectKeyStore.listForSubject(subjectId);
    if (rows.length === 0) throw subjectKeyNotFound();
    const entry: SubjectKeys = { current: 0, keys: new Map(), kekGenerationIds: [] };
    try {
      for (const row of rows) {
        const kek = await this.keks.forRead(row.kekGenerationId);
        if (row.wrappedKey.length > 0 && headerOf(row.wrappedKey, SealedKind.SubjectKey).keyReference !== row.kekGenerationId) {
          throw integrityError('a wrapped subject key names another KEK generation than its row');
        }
        const key = authenticated(() => openWithKey(kek, row.wrappedKey, SealedKind.SubjectKey, [subjectId]));
        if (key.length !== KEY_BYTES) throw integrityError('a wrapped subject key has the wrong length');
        entry.keys.set(row.version, key);
        entry.current = Math.max(entry.current, row.version);
        if (!entry.kekGenerationIds.includes(row.kekGenerationId)) entry.kekGenerationIds.push(row.kekGenerationId);
      }
    } catch (error) {
      zero(entry);
      throw error;
    }
    if (epoch === this.destroyEpoch) {
      this.subjectKeys.set(subjectId, entry);
    } else {
      // A destroy ran meanwhile: serve this one call, keep nothing.
      zeroEntrySoon(entry);
    }
    return entry;
  }
}

function headerOf(sealed: Buffer, kind: SealedKind) {
  try {
    return parseCiphertext(sealed, kind);
  } catch (error) {
    if (error instanceof MalformedCiphertext) throw integrityError(error.message);
    throw error;
  }
}

function authenticated(open: () => Buffer): Buffer {
  try {
    return open();
  } catch (error) {
    if (error instanceof AuthenticationFailed || error instanceof MalformedCiphertext) throw integrityError(error.message);
    throw error;
  }
}

/** A precondition: ids and names bound into the AAD are non-empty and short. */
function checkBinding(value: string, what: string): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_BINDING_LENGTH) {
    throw new VaultError('invalid_key_binding', 500, 'Invalid key binding', { detail: `${what} must be 1 to ${MAX_BINDING_LENGTH} characters` });
  }
}
