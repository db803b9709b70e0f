import type { Sealed } from '../crypto/sealed';
import type { Knex } from 'knex';
import type { Database } from './database';

export type SigningKeyState = 'active' | 'retired';

/** A signing key as stored: the public JWK in clear, the private half only sealed. */
export interface StoredSigningKey {
  kid: string;
  algorithm: string;
  publicJwk: Record<string, unknown>;
  sealedPrivateKey: Sealed;
  state: SigningKeyState;
  createdAt: Date;
  retiredAt: Date | null;
}

interface SigningKeyRow {
  kid: string;
  algorithm: string;
  public_jwk: Record<string, unknown>;
  sealed_private_key: Buffer;
  state: SigningKeyState;
  created_at: Date;
  retired_at: Date | null;
}

export class SigningKeyStore {
  constructor(private readonly db: Database) {}

  async active(): Promise<StoredSigningKey | undefined> {
    const row = await this.db<SigningKeyRow>('signing_keys').where({ state: 'active' }).first();
    return row && toKey(row);
  }

  /** The active key and every key retired after `retiredSince` (their tokens may still be alive). */
  async published(retiredSince: Date): Promise<StoredSigningKey[]> {
    const rows = await this.db<SigningKeyRow>('signing_keys')
      .where({ state: 'active' })
      .orWhere((q) => q.where({ state: 'retired' }).andWhere('retired_at', '>', retiredSince))
      .orderBy('created_at', 'desc');
    return rows.map(toKey);
  }

  /**
   * Inserts `key` as the active key, retiring the previous one in the same transaction.
   * Returns false when another instance made a key active first (`onlyIfNoneActive`).
   */
  async activate(key: Omit<StoredSigningKey, 'state' | 'createdAt' | 'retiredAt'>, onlyIfNoneActive: boolean, db: Knex = this.db): Promise<boolean> {
    // Inside a caller's transaction, a savepoint: the key commits with it.
    return db.transaction(async (trx) => {
      // One writer at a time across instances; released when the (outermost) transaction ends.
      await trx.raw("select pg_advisory_xact_lock(hashtext('pdvault.signing_keys'))");
      const current = await trx<SigningKeyRow>('signing_keys').where({ state: 'active' }).first();
      if (current && onlyIfNoneActive) return false;
      if (current) {
        await trx<SigningKeyRow>('signing_keys').where({ kid: current.kid }).update({ state: 'retired', retired_at: trx.fn.now() as unknown as Date });
      }
      await trx<SigningKeyRow>('signing_keys').insert({
        kid: key.kid,
        algorithm: key.algorithm,
        public_jwk: key.publicJwk,
        sealed_private_key: key.sealedPrivateKey,
        state: 'active',
      });
      return true;
    });
  }
}

function toKey(row: SigningKeyRow): StoredSigningKey {
  return {
    kid: row.kid,
    algorithm: row.algorithm,
    publicJwk: row.public_jwk,
    sealedPrivateKey: row.sealed_private_key as Sealed,
    state: row.state,
    createdAt: row.created_at,
    retiredAt: row.retired_at,
  };
}
