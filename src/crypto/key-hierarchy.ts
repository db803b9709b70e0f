import crypto from 'node:crypto';
import type { Knex } from 'knex';
import { VaultError } from '../errors/vault-error';
import type { Logger } from '../observability/logger';
import { KekGenerationStore } from '../store/kek-generations';
import { KeyRotationStore } from '../store/key-rotation';
import { SubjectKeyExists, SubjectKeyStore, type SubjectKeyRow } from '../store/subject-keys';
import { AuthenticationFailed, KEY_BYTES, openWithKey, sealWithKey } from './aes-gcm';
import { MalformedCiphertext, parseCiphertext, SealedKind } from './ciphertext-format';
import { KekCache } from './kek-cache';
import { KekGenerations } from './kek-generations';
import { fromProviderError, integrityError, RetiredKeyVersion, subjectKeyExists, subjectKeyNotFound } from './key-errors';
import { KeyProviderError, type KeyProvider, type ProviderKeyDescription } from './key-provider';
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
/** A new subject key, wrapped but not yet stored. Its plaintext is zeroed if storing fails. */
export interface PreparedSubjectKey {
  subjectId: string;
  generationId: number;
  subjectKey: Buffer;
  wrappedKey: Sealed;
}

export class KeyHierarchy {
  private readonly provider: KeyProvider;
  private readonly subjectKeyStore: SubjectKeyStore;
  private readonly rotationStore: KeyRotationStore;
  private readonly keks: KekCache;
  private readonly generations: KekGenerations;
  private readonly subjectKeys: SubjectKeyCache;
  private readonly metrics: KeyMetrics;
  private readonly loading = new Map<string, Promise<SubjectKeys>>();
  // Whether a cached key's KEK generation may still unwrap: asked on every read.
  private readonly usableKek = (generationId: number) => this.keks.usableForRead(generationId);
  // Bumped by every destroy: a load that started before a destroy must not put the shredded key back.
  private destroyEpoch = 0;

  constructor(settings: KeyHierarchySettings, deps: KeyHierarchyDependencies) {
    this.metrics = deps.metrics ?? NO_KEY_METRICS;
    this.provider = instrumentProvider(deps.provider, this.metrics);
    this.subjectKeyStore = new SubjectKeyStore(deps.db);
    this.rotationStore = new KeyRotationStore(deps.db);
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
    await this.storeSubjectKey(await this.prepareSubjectKey(subjectId), trx);
  }

  /**
   * The first half of createSubjectKey: makes and wraps the key without touching the subject's
   * rows. Wrapping may reserve wraps with a statement of its own, so a caller that will store
   * the key inside a transaction prepares it first: holding one pooled connection while waiting
   * for another is how a busy pool deadlocks.
   */
  async prepareSubjectKey(subjectId: string): Promise<PreparedSubjectKey> {
    checkBinding(subjectId, 'subject id');
    const { generationId, kek } = await this.generations.takeWrap();
    const subjectKey = crypto.randomBytes(KEY_BYTES);
    const wrappedKey = sealWithKey(kek, SealedKind.SubjectKey, generationId, [subjectId], subjectKey);
    return { subjectId, generationId, subjectKey, wrappedKey };
  }

  /** A value sealed under a prepared subject key, before the key is stored: a new subject's fields travel in the same statement as its key. */
  sealUnderPrepared(prepared: PreparedSubjectKey, field: string, plaintext: Buffer | string): Sealed {
    return sealField(prepared.subjectKey, FIRST_SUBJECT_KEY_VERSION, prepared.subjectId, field, plaintext);
  }

  /** The row a prepared key is stored as, for a caller that writes it with other rows in one statement. */
  subjectKeyRowOf(prepared: PreparedSubjectKey): SubjectKeyRow {
    return { subjectId: prepared.subjectId, version: FIRST_SUBJECT_KEY_VERSION, kekGenerationId: prepared.generationId, wrappedKey: prepared.wrappedKey };
  }

  /**
   * Settles a prepared key its caller stored itself (see subjectKeyRowOf): cached once the row is
   * committed, so the subject's first read needs no query; zeroed when it never was.
   */
  settlePreparedKey(prepared: PreparedSubjectKey, committed: boolean): void {
    if (!committed) {
      prepared.subjectKey.fill(0);
      return;
    }
    this.subjectKeys.set(prepared.subjectId, { current: FIRST_SUBJECT_KEY_VERSION, keys: new Map([[FIRST_SUBJECT_KEY_VERSION, prepared.subjectKey]]), kekGenerationIds: [prepared.generationId] });
  }

  /** Stores a prepared subject key (inside the caller's transaction, if given) and caches it. */
  async storeSubjectKey(prepared: PreparedSubjectKey, trx?: Knex.Transaction): Promise<void> {
    const { subjectId, generationId, subjectKey, wrappedKey } = prepared;
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

  /**
   * True when every sealed value was made under the subject's current key, read inside the
   * caller's transaction. Values sealed before a transaction opened could otherwise land after
   * a re-key destroyed the key they name, and be unreadable. When not, the keys this instance
   * holds for the subject are stale (a re-key ran meanwhile, here or on another instance) and
   * are dropped, so the write sealed again uses the current version.
   */
  async sealedUnderCurrentKey(subjectId: string, sealed: readonly Sealed[], trx: Knex.Transaction): Promise<boolean> {
    const versions = (await this.subjectKeyStore.listForSubject(subjectId, trx)).map((row) => row.version);
    const current = Math.max(...versions);
    const underCurrent = sealed.every((value) => headerOf(value, SealedKind.FieldValue).keyReference === current);
    if (!underCurrent) this.forgetSubjectKeys(subjectId);
    return underCurrent;
  }

  /**
   * A key of the subject was deleted (erasure or re-key, by this instance or another): whatever
   * this one holds for it leaves memory, and a load in flight does not cache what it read before.
   */
  forgetSubjectKeys(subjectId: string): void {
    this.destroyEpoch += 1;
    this.subjectKeys.delete(subjectId);
  }

  /**
   * Whether this instance hears of every subject key destroyed anywhere (the change feed is up).
   * Either way what it holds leaves memory (deletes may have gone unannounced); while it does not,
   * it keeps no subject key past its use, so an erasure elsewhere is not outlived here.
   */
  hearsSubjectKeyDeletions(listening: boolean): void {
    this.destroyEpoch += 1;
    this.subjectKeys.hold(listening);
  }

  /** Subjects whose unwrapped keys this instance holds in memory. */
  get cachedSubjects(): number {
    return this.subjectKeys.size;
  }

  /** AES-256-GCM under the subject's current key, random 96-bit nonce, bound to subject and field. */
  async seal(subjectId: string, field: string, plaintext: Buffer | string): Promise<Sealed> {
    const entry = await this.keysOf(subjectId);
    return sealField(entry.keys.get(entry.current)!, entry.current, subjectId, field, plaintext);
  }

  /**
   * The plaintext, or an `integrity_error` if anything about the ciphertext or its place changed.
   * Inside a transaction, pass it: keys not in memory are read on its connection rather than on
   * another one taken from the pool while it holds its own (see `warmKeksForRead`).
   */
  async open(subjectId: string, field: string, sealed: Sealed, trx?: Knex.Transaction): Promise<Buffer> {
    const version = headerOf(sealed, SealedKind.FieldValue).keyReference;
    let entry = await this.keysOf(subjectId, trx);
    // A version this instance has not seen may have been added by another one: read again once.
    if (!entry.keys.has(version)) entry = await this.loadSubjectKeys(subjectId, trx);
    const key = entry.keys.get(version);
    if (!key) throw version < entry.current ? new RetiredKeyVersion() : integrityError('ciphertext names a subject-key version that does not exist');
    return authenticated(() => openWithKey(key, sealed, SealedKind.FieldValue, [subjectId, field]));
  }

  /** Crypto-shredding: the wrapped key is deleted and the cached one zeroed, so the subject's ciphertexts are unreadable. */
  async destroySubjectKey(subjectId: string, trx?: Knex.Transaction): Promise<void> {
    const shred = () => this.forgetSubjectKeys(subjectId);
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

  /**
   * KMS key rotation, one generation at a time (a job's unit of work), on `trx` when given;
   * whether this call moved it (false when destroyed, or already under the key the provider gave).
   */
  rewrapKekGeneration(generationId: number, trx?: Knex.Transaction): Promise<boolean> {
    return this.generations.rewrapOne(generationId, trx);
  }

  /** KMS key rotation: is the new KMS key enabled and usable? Its canonical reference (ARN). */
  async describeProviderKey(keyId: string | undefined): Promise<ProviderKeyDescription> {
    if (!this.provider.describeKey) throw new VaultError('kms_key_rotation_unsupported', 409, 'The key provider cannot move to another key');
    try {
      return await this.provider.describeKey(keyId);
    } catch (error) {
      if (error instanceof KeyProviderError && error.reason === 'denied') return { usable: false, keyRef: keyId ?? '', detail: error.message };
      throw fromProviderError(error, 'describe the new KMS key');
    }
  }

  /** From now on, KEK generations are created and re-encrypted under `keyRef`. */
  useProviderKey(keyRef: string): void {
    this.provider.useKey?.(keyRef);
  }

  providerKeyRef(): string | undefined {
    return this.provider.currentKeyRef?.();
  }

  /**
   * KEK rotation inside a job's transaction: a new generation that wraps every new key once `trx`
   * commits. After the commit, `adopt` it (this instance wraps under it at once); if the
   * transaction fails, `discard` it (its key is zeroed).
   */
  async rotateKekGenerationWithin(trx: Knex.Transaction): Promise<{ generationId: number; adopt(): void; discard(): void }> {
    const created = await this.generations.rotateWithin(trx);
    return { generationId: created.id, adopt: () => this.generations.adopt(created), discard: () => this.generations.discard(created) };
  }

  /**
   * KEK rotation's unit of work: the subject keys re-wrapped under `targetGenerationId`. The
   * plaintext subject keys exist only inside this call and are zeroed before it returns.
   */
  async rewrapSubjectKeys(rows: readonly SubjectKeyRow[], targetGenerationId: number): Promise<SubjectKeyRow[]> {
    const sources = [...new Set(rows.map((row) => row.kekGenerationId))];
    // Warm every KEK first; the second pass hits the cache without I/O, so no key is evicted meanwhile.
    await this.keks.forWrap(targetGenerationId);
    for (const id of sources) await this.keks.forRead(id);
    const target = await this.keks.forWrap(targetGenerationId);
    const keks = new Map<number, Buffer>();
    for (const id of sources) keks.set(id, await this.keks.forRead(id));
    return rows.map((row) => {
      if (headerOf(row.wrappedKey, SealedKind.SubjectKey).keyReference !== row.kekGenerationId) {
        throw integrityError('a wrapped subject key names another KEK generation than its row');
      }
      const key = authenticated(() => openWithKey(keks.get(row.kekGenerationId)!, row.wrappedKey, SealedKind.SubjectKey, [row.subjectId]));
      try {
        if (key.length !== KEY_BYTES) throw integrityError('a wrapped subject key has the wrong length');
        const wrappedKey = sealWithKey(target, SealedKind.SubjectKey, targetGenerationId, [row.subjectId], key);
        return { subjectId: row.subjectId, version: row.version, kekGenerationId: targetGenerationId, wrappedKey };
      } finally {
        key.fill(0);
      }
    });
  }

  /**
   * Creates keys for many new subjects in one insert (imports, benchmarks, tests), each wrapped
   * by the active generation like `createSubjectKey`, and cached (within the cache's bound) so
   * the caller can seal their fields at once.
   */
  async createSubjectKeys(subjectIds: readonly string[], trx?: Knex.Transaction): Promise<void> {
    const rows: SubjectKeyRow[] = [];
    const created = new Map<string, { generationId: number; key: Buffer }>();
    try {
      for (const subjectId of subjectIds) {
        checkBinding(subjectId, 'subject id');
        const { generationId, kek } = await this.generations.takeWrap();
        const subjectKey = crypto.randomBytes(KEY_BYTES);
        created.set(subjectId, { generationId, key: subjectKey });
        rows.push({ subjectId, version: FIRST_SUBJECT_KEY_VERSION, kekGenerationId: generationId, wrappedKey: sealWithKey(kek, SealedKind.SubjectKey, generationId, [subjectId], subjectKey) });
      }
      await this.rotationStore.insertSubjectKeys(rows, trx);
    } catch (error) {
      for (const { key } of created.values()) key.fill(0);
      if ((error as { code?: string }).code === '23505') throw subjectKeyExists();
      throw error;
    }
    for (const [subjectId, { generationId, key }] of created) {
      this.subjectKeys.set(subjectId, { current: FIRST_SUBJECT_KEY_VERSION, keys: new Map([[FIRST_SUBJECT_KEY_VERSION, key]]), kekGenerationIds: [generationId] });
    }
    trx?.executionPromise?.then(undefined, () => {
      for (const subjectId of created.keys()) this.subjectKeys.delete(subjectId);
    });
  }

  /**
   * Subject-key rotation (suspected exposure): a new key version for the subject inside `trx`,
   * a function that re-encrypts one of its ciphertexts under it, and `finish`, which deletes
   * every older version so what they sealed is unreadable. The caller holds the subject's row lock.
   * The new key is `prepared` (prepareSubjectKey) before that lock is taken: its wrap may need a
   * pooled connection, which writers queued on the lock could be holding. It is zeroed here
   * whatever happens.
   */
  async rekeySubject(subjectId: string, trx: Knex.Transaction, prepared: PreparedSubjectKey): Promise<SubjectRekey> {
    const fresh = prepared.subjectKey;
    let loaded: SubjectKeys;
    try {
      if (prepared.subjectId !== subjectId) throw new Error('a key prepared for another subject');
      loaded = await this.loadSubjectKeys(subjectId, trx);
    } catch (error) {
      fresh.fill(0);
      throw error;
    }
    // Own copies: the cached entry may be evicted (and zeroed) while the caller waits on the database.
    const oldKeys = new Map([...loaded.keys].map(([version, key]) => [version, Buffer.from(key)]));
    const version = loaded.current + 1;
    const zeroAll = () => {
      fresh.fill(0);
      for (const key of oldKeys.values()) key.fill(0);
    };
    try {
      await this.subjectKeyStore.insert({ subjectId, version, kekGenerationId: prepared.generationId, wrappedKey: prepared.wrappedKey }, trx);
    } catch (error) {
      zeroAll();
      if (error instanceof SubjectKeyExists) throw subjectKeyExists();
      throw error;
    }
    const forget = () => this.forgetSubjectKeys(subjectId);
    return {
      version,
      reseal: (field, sealed) => {
        checkBinding(field, 'field name');
        const key = oldKeys.get(headerOf(sealed, SealedKind.FieldValue).keyReference);
        if (!key) throw integrityError('ciphertext names a subject-key version that does not exist');
        const plaintext = authenticated(() => openWithKey(key, sealed, SealedKind.FieldValue, [subjectId, field]));
        try {
          return sealWithKey(fresh, SealedKind.FieldValue, version, [subjectId, field], plaintext);
        } finally {
          plaintext.fill(0);
        }
      },
      finish: async () => {
        try {
          forget();
          await this.rotationStore.deleteSubjectKeysBelow(trx, subjectId, version);
          forget();
          // Whatever is read before the commit still sees the old rows; drop what it cached once settled.
          trx.executionPromise?.then(forget, forget);
        } finally {
          zeroAll();
        }
      },
      abandon: zeroAll,
    };
  }

  /** KEK rotation of a vault secret (signing key, blind-index key...): opened and sealed again under the active generation. */
  async resealSecret(kind: string, id: string, sealed: Sealed): Promise<Sealed> {
    const plaintext = await this.openSecret(kind, id, sealed);
    try {
      return await this.sealSecret(kind, id, plaintext);
    } finally {
      plaintext.fill(0);
    }
  }

  /** The KEK generation a sealed vault secret names (its header; nothing is opened). */
  secretGeneration(sealed: Sealed): number {
    return headerOf(sealed, SealedKind.VaultSecret).keyReference;
  }

  /** A destroyed generation's unwrapped key leaves this instance's memory at once. */
  forgetKekGeneration(generationId: number): void {
    this.keks.evict(generationId);
  }

  /**
   * The provider's state for /readyz. A good answer is trusted for `trustGoodMs`, and probes
   * arriving while one check runs share it: an unauthenticated probe must not cost a KMS call
   * each. A failure is not remembered, so recovery shows at the next probe.
   */
  readinessCheck(trustGoodMs: number): { name: string; check(): Promise<{ ok: boolean; detail?: string }> } {
    let last: { at: number; result: Promise<{ ok: boolean; detail?: string }> } | undefined;
    const ask = async () => {
      try {
        return await this.provider.describe();
      } catch (error) {
        const denied = error instanceof KeyProviderError && error.reason === 'denied';
        return { ok: false, detail: denied ? 'key provider refused: key disabled or access denied' : 'key provider unreachable' };
      }
    };
    return {
      name: 'key_provider',
      check: () => {
        const now = Date.now();
        if (!last || now - last.at >= trustGoodMs) {
          const current = { at: now, result: ask() };
          last = current;
          // Only a good answer is kept; a failed one is asked again by the next probe.
          void current.result.then((result) => {
            if (!result.ok && last === current) last = undefined;
          });
        }
        return last.result;
      },
    };
  }

  /** Zeroes every cached key and releases the provider (shutdown). */
  close(): void {
    this.subjectKeys.clear();
    this.keks.clear();
    this.provider.close?.();
  }

  /**
   * Every KEK generation's key that can still unwrap, in memory for reads: a step that is about
   * to open subject keys inside its transaction calls this first, so no unwrap inside it goes
   * to the database or the provider for its KEK.
   */
  async warmKeksForRead(): Promise<void> {
    await this.generations.warmForRead();
  }

  /** The subject's keys from the cache, if the KEKs that unwrapped them are still usable; else from the store. */
  private async keysOf(subjectId: string, trx?: Knex.Transaction): Promise<SubjectKeys> {
    const cached = this.subjectKeys.getUsable(subjectId, this.usableKek);
    if (cached) {
      this.metrics.cacheHit('subject_key');
      return cached;
    }
    this.metrics.cacheMiss('subject_key');
    return this.loadSubjectKeys(subjectId, trx);
  }

  private loadSubjectKeys(subjectId: string, trx?: Knex.Transaction): Promise<SubjectKeys> {
    // On the caller's transaction, never by waiting for a load that runs on another connection.
    if (trx) return this.loadSubjectKeysOnce(subjectId, trx);
    const running = this.loading.get(subjectId);
    if (running) return running;
    const loading = this.loadSubjectKeysOnce(subjectId).finally(() => this.loading.delete(subjectId));
    this.loading.set(subjectId, loading);
    return loading;
  }

  private async loadSubjectKeysOnce(subjectId: string, trx?: Knex.Transaction): Promise<SubjectKeys> {
    const epoch = this.destroyEpoch;
    const rows = await this.subjectKeyStore.listForSubject(subjectId, trx);
    if (rows.length === 0) throw subjectKeyNotFound();
    const entry = await this.unwrapSubjectKeys(subjectId, rows);
    if (!trx) this.cacheUnlessDestroyed(subjectId, entry, epoch);
    // Read in a transaction, the rows may be its own uncommitted writes: kept only once it commits.
    else trx.executionPromise.then(() => this.cacheUnlessDestroyed(subjectId, entry, epoch), () => zeroEntrySoon(entry));
    return entry;
  }

  /**
   * A read of subjects' rows that brings the wrapped keys along for those whose keys are not
   * in memory (`read` is told which), so a cold subject costs one query, not two. The keys
   * are unwrapped and cached as a load would; one that fails to unwrap is left out, and
   * opening its values reports the integrity error as usual.
   */
  async readWithSubjectKeys<T>(subjectIds: readonly string[], read: (keysFor: ReadonlySet<string>) => Promise<{ value: T; keyRows: readonly SubjectKeyRow[] }>): Promise<T> {
    const keysFor = new Set(subjectIds.filter((id) => !this.hasUsableKeys(id)));
    const epoch = this.destroyEpoch;
    const { value, keyRows } = await read(keysFor);
    await this.acceptWrappedKeys(keyRows.filter((row) => keysFor.has(row.subjectId)), epoch);
    return value;
  }

  private hasUsableKeys(subjectId: string): boolean {
    return this.subjectKeys.holdsUsable(subjectId, this.usableKek);
  }

  private async acceptWrappedKeys(rows: readonly SubjectKeyRow[], epoch: number): Promise<void> {
    const bySubject = new Map<string, SubjectKeyRow[]>();
    for (const row of rows) bySubject.set(row.subjectId, [...(bySubject.get(row.subjectId) ?? []), row]);
    for (const [subjectId, subjectRows] of bySubject) {
      const entry = await this.unwrapSubjectKeys(subjectId, subjectRows).catch(() => undefined);
      if (entry) this.cacheUnlessDestroyed(subjectId, entry, epoch);
    }
  }

  private async unwrapSubjectKeys(subjectId: string, rows: readonly SubjectKeyRow[]): Promise<SubjectKeys> {
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
    return entry;
  }

  private cacheUnlessDestroyed(subjectId: string, entry: SubjectKeys, epoch: number): void {
    if (epoch === this.destroyEpoch) {
      this.subjectKeys.set(subjectId, entry);
    } else {
      // A destroy ran meanwhile: serve this one call, keep nothing.
      zeroEntrySoon(entry);
    }
  }
}

/** One subject's re-key in progress (see `KeyHierarchy.rekeySubject`). */
export interface SubjectRekey {
  version: number;
  /** The same plaintext, sealed under the new key version; bound to the same subject and field. */
  reseal(field: string, sealed: Sealed): Sealed;
  /** Deletes the older key versions inside the transaction and zeroes every key held. */
  finish(): Promise<void>;
  /** Zeroes every key held, when the caller gives up before `finish`. */
  abandon(): void;
}

function headerOf(sealed: Buffer, kind: SealedKind) {
  try {
    return parseCiphertext(sealed, kind);
  } catch (error) {
    if (error instanceof MalformedCiphertext) throw integrityError(error.message);
    throw error;
  }
}

/** A field value under one subject key version, bound to its subject and field. */
function sealField(subjectKey: Buffer, version: number, subjectId: string, field: string, plaintext: Buffer | string): Sealed {
  checkBinding(field, 'field name');
  const bytes = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
  return sealWithKey(subjectKey, SealedKind.FieldValue, version, [subjectId, field], bytes);
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
