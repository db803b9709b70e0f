import crypto from 'node:crypto';
import { domainToASCII } from 'node:url';
import type { BlindIndexKeyStore } from '../store/blind-index-keys';
import type { KeyHierarchy } from './key-hierarchy';
import { zeroSoon } from './zeroize';

export interface IndexValue {
  version: number;
  value: Buffer;
}

export const BLIND_INDEX_SECRET_KIND = 'blind_index_key';
const SECRET_KIND = BLIND_INDEX_SECRET_KIND;
/** How long an instance may keep writing with a key version it loaded; a re-index job waits this out before retiring one. */
export const BLIND_INDEX_KEY_REFRESH_MS = 30_000;
const KEY_REFRESH_MS = BLIND_INDEX_KEY_REFRESH_MS;

/**
 * Keyed lookups over values the vault holds only sealed: HMAC-SHA256 under a blind-index key
 * of its own (sealed under the key hierarchy), over a documented normalisation
 * (docs/blind-index.md). A domain label keeps an email's index from ever equalling a card's.
 * Writes use the active key; lookups try every key not yet retired, so a re-index job can run
 * while lookups keep finding subjects.
 */
export class BlindIndex {
  private keys: Array<{ version: number; status: string; key: Buffer }> = [];
  private loadedAt = 0;
  private loading: Promise<void> | undefined;

  constructor(
    private readonly hierarchy: KeyHierarchy,
    private readonly store: BlindIndexKeyStore,
  ) {}

  async email(address: string): Promise<IndexValue> {
    return this.compute('email', normaliseEmail(address), await this.activeKey());
  }

  async emailCandidates(address: string): Promise<IndexValue[]> {
    // An address with a final sigma indexed before ς was folded to σ holds its unfolded form
    // until a blind-index rotation recomputes it: the same address typed again still finds it.
    const forms = [...new Set([normaliseEmail(address), normaliseEmailUnfolded(address)])];
    return (await this.liveKeys()).flatMap((key) => forms.map((form) => this.compute('email', form, key)));
  }

  /**
   * Whether the database holds a key version newer than any of `used`: another instance rotated
   * the keys since this one loaded them, and may already have moved rows to the new one, where a
   * lookup under the old keys alone misses them. Asked after the lookup: the key is committed
   * before any row is moved to it, so a row the lookup missed for it shows here.
   */
  async newerThan(used: readonly IndexValue[]): Promise<boolean> {
    return (await this.store.newestVersion()) > Math.max(0, ...used.map((value) => value.version));
  }

  async cardFingerprint(pan: string): Promise<IndexValue> {
    return this.compute('card', pan, await this.activeKey());
  }

  async cardCandidates(pan: string): Promise<IndexValue[]> {
    return (await this.liveKeys()).map((key) => this.compute('card', pan, key));
  }

  /**
   * An opaque reference (`tok_…`) for a value the caller may know exists but not see, and the
   * pseudonym (`psn_…`) analytics sees instead of a subject id, under the active key: the same
   * until a blind-index rotation, which gives new ones (unlinkable to the old without the vault).
   * Neither can be turned back into what it stands for without the key.
   */
  async reference(prefix: 'tok' | 'psn', ...parts: string[]): Promise<string> {
    const mac = this.compute(`reference:${prefix}`, parts.join('\u0000'), await this.activeKey());
    return `${prefix}_${mac.value.subarray(0, 16).toString('base64url')}`;
  }

  /**
   * What an Idempotency-Key's request is recognised by: keyed, because the request holds
   * personal values and a plain hash of it would let anyone who reads the table test guesses.
   */
  async request(canonicalRequest: string): Promise<IndexValue> {
    return this.compute('request', canonicalRequest, await this.activeKey());
  }

  /**
   * What a client's Idempotency-Key is stored as, under the active key version: keyed, so a key
   * that carries a personal value (an email, a card number) is not kept where it can be read,
   * nor tested against a guess. A digest never changes once stored, so every version counts;
   * `atLeastVersion`, a version another instance may have written under, is loaded if unknown.
   */
  async idempotencyKey(clientId: string, key: string, atLeastVersion?: number): Promise<{ stored: IndexValue; candidates: IndexValue[] }> {
    if (atLeastVersion !== undefined && !this.keys.some((k) => k.version >= atLeastVersion)) await this.refresh();
    const value = `${clientId}\u0000${key}`;
    const stored = this.compute('idempotency', value, await this.activeKey());
    const others = this.keys.filter((k) => k.version !== stored.version).map((k) => this.compute('idempotency', value, k));
    return { stored, candidates: [stored, ...others] };
  }

  /** A request's digest under the key version it was first recorded with (retired versions included). */
  async requestAt(version: number, canonicalRequest: string): Promise<IndexValue> {
    return this.compute('request', canonicalRequest, await this.keyAt(version));
  }

  /** Re-indexing: an email's index under one named key version. */
  async emailAt(version: number, address: string): Promise<IndexValue> {
    return this.compute('email', normaliseEmail(address), await this.keyAt(version));
  }

  /** Re-indexing: a card's fingerprint under one named key version. */
  async cardAt(version: number, pan: string): Promise<IndexValue> {
    return this.compute('card', pan, await this.keyAt(version));
  }

  /** Reads the key versions again now (after a rotation added one), instead of at the next refresh. */
  async refresh(): Promise<void> {
    // A load already under way may have read the table before the change: wait, then load again.
    await this.loading?.catch(() => undefined);
    await this.load();
  }

  /** Loads key `version` now if this instance does not hold it, so computing under it needs no query. */
  async holdVersion(version: number): Promise<void> {
    await this.keyAt(version);
  }

  private async keyAt(version: number) {
    let key = this.keys.find((k) => k.version === version);
    if (!key) {
      // A load under way may have read the table before this version was added: load once more after it.
      await this.refresh();
      key = this.keys.find((k) => k.version === version);
    }
    if (!key) throw new Error(`no blind-index key version ${version}`);
    return key;
  }

  private compute(label: string, value: string, key: { version: number; key: Buffer }): IndexValue {
    const mac = crypto.createHmac('sha256', key.key).update(`${label}\u0000`).update(value, 'utf8').digest();
    return { version: key.version, value: mac };
  }

  private async activeKey() {
    const active = (await this.liveKeys()).find((k) => k.status === 'active');
    if (!active) throw new Error('no active blind-index key');
    return active;
  }

  private async liveKeys() {
    if (this.keys.length === 0 || Date.now() - this.loadedAt > KEY_REFRESH_MS) await this.load();
    return this.keys.filter((k) => k.status !== 'retired');
  }

  /**
   * One load at a time: after each refresh interval every request in flight asks for one, and a
   * load wipes the keys it replaces, which another load's waiters may be about to use.
   */
  private load(): Promise<void> {
    this.loading ??= this.loadFromStore().finally(() => (this.loading = undefined));
    return this.loading;
  }

  private async loadFromStore(): Promise<void> {
    let rows = await this.store.list();
    if (rows.length === 0) {
      const fresh = crypto.randomBytes(32);
      await this.store.insertFirst(await this.hierarchy.sealSecret(SECRET_KIND, '1', fresh));
      fresh.fill(0);
      rows = await this.store.list();
    }
    const keys = [];
    for (const row of rows) {
      keys.push({ version: row.version, status: row.status, key: await this.hierarchy.openSecret(SECRET_KIND, String(row.version), row.sealedKey) });
    }
    // Not at once: a caller handed one of them may still be about to compute with it in this turn.
    for (const old of this.keys) zeroSoon(old.key);
    this.keys = keys;
    this.loadedAt = Date.now();
  }
}

/**
 * Email normalisation for lookups: Unicode NFC, surrounding white space removed, the domain
 * converted to its ASCII (IDNA) form, and the whole address lower-cased, the final sigma folded
 * to σ (lower-casing gives ς or σ by position, so ΣΣ and σσ would differ). Mail systems treat
 * local parts case-insensitively in practice, and a lookup that misses on case is a surprise.
 */
export function normaliseEmail(address: string): string {
  return normaliseEmailUnfolded(address).replace(/ς/g, 'σ');
}

/** The normalisation before the final sigma was folded, which indexes computed then hold. */
function normaliseEmailUnfolded(address: string): string {
  const trimmed = address.normalize('NFC').trim();
  const at = trimmed.lastIndexOf('@');
  if (at < 0) return trimmed.toLowerCase();
  const domain = domainToASCII(trimmed.slice(at + 1)) || trimmed.slice(at + 1);
  return `${trimmed.slice(0, at)}@${domain}`.toLowerCase();
}
