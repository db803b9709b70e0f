import type { Knex } from 'knex';
import type { Sealed } from '../crypto/sealed';

export type BlindIndexKeyStatus = 'active' | 'retiring' | 'retired';

export interface BlindIndexKeyRow {
  version: number;
  sealedKey: Sealed;
  status: BlindIndexKeyStatus;
  createdAt: Date;
}

/** The `blind_index_keys` table: HMAC keys for lookups, sealed under the hierarchy, by version. */
export class BlindIndexKeyStore {
  constructor(private readonly db: Knex) {}

  async list(): Promise<BlindIndexKeyRow[]> {
    const rows = await this.db('blind_index_keys').select('*').orderBy('version');
    return rows.map((r) => ({ version: r.version, sealedKey: r.sealed_key as Sealed, status: r.status, createdAt: r.created_at }));
  }

  /** The newest key version, whatever its status; 0 before the first. */
  newestVersion(): Promise<number> {
    return newestBlindIndexVersion(this.db);
  }

  /**
   * Inserts the first key unless another session got there first; returns whether this one won.
   * `on conflict do nothing` without a target: two sessions racing conflict on the version or on
   * the one-active-key index, whichever they reach first, and both mean "someone else won".
   */
  async insertFirst(sealedKey: Sealed): Promise<boolean> {
    const inserted = await this.db('blind_index_keys').insert({ version: 1, sealed_key: sealedKey, status: 'active' }).onConflict().ignore().returning('version');
    return inserted.length > 0;
  }
}

/**
 * The database holds a blind-index key version newer than those a write computed its indexes
 * with (another instance rotated the keys since this one loaded them). Thrown inside the write's
 * transaction, which rolls back: the caller loads the keys outside it, where loading them takes
 * no second pooled connection while this one is held, and writes again.
 */
export class BlindIndexKeysBehind extends Error {
  constructor(readonly version: number) {
    super(`blind-index key version ${version} is newer than those loaded`);
  }
}

/** The newest blind-index key version, whatever its status, on `db` (a transaction, or the pool); 0 before the first. */
export async function newestBlindIndexVersion(db: Knex): Promise<number> {
  const newest = await db('blind_index_keys').max<{ version: number | null }>('version as version').first();
  return newest?.version ?? 0;
}

/** Inside a write's transaction, after the rows it compares with were read: throws BlindIndexKeysBehind if `known` is not the newest version. */
export async function assertBlindIndexCurrent(trx: Knex.Transaction, known: number): Promise<void> {
  const newest = await newestBlindIndexVersion(trx);
  if (newest > known) throw new BlindIndexKeysBehind(newest);
}
