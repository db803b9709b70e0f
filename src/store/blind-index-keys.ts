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
