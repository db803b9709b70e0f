import type { Knex } from 'knex';
import type { Sealed } from '../crypto/sealed';
import { newestBlindIndexVersion } from './blind-index-keys';

export interface IndexedSubjectRow {
  id: string;
  email: Sealed;
}

export interface IndexedCardRow {
  token: string;
  subjectId: string;
  card: Sealed;
}

/** The SQL of a blind-index rotation: a new key version, and batches of rows indexed under older ones. */
export class BlindIndexRotationStore {
  constructor(private readonly db: Knex) {}

  /** Adds `version` as the active key; the previous active one is `retiring` (still consulted by lookups). */
  async addActiveKey(trx: Knex.Transaction, version: number, sealedKey: Sealed): Promise<void> {
    await trx('blind_index_keys').where({ status: 'active' }).update({ status: 'retiring' });
    await trx('blind_index_keys').insert({ version, sealed_key: sealedKey, status: 'active' });
  }

  /** The newest key version (0 before any). */
  newestVersion(db: Knex = this.db): Promise<number> {
    return newestBlindIndexVersion(db);
  }

  /** The newest key version, read under a lock held until `trx` ends: no other start adds one meanwhile. */
  async lockNewestVersion(trx: Knex.Transaction): Promise<number> {
    await trx.raw("select pg_advisory_xact_lock(hashtext('pdvault.blind_index_keys'))");
    return this.newestVersion(trx);
  }

  /** Lookups stop consulting every version older than `version`. */
  async retireBelow(version: number, trx: Knex.Transaction): Promise<void> {
    await trx('blind_index_keys').where('version', '<', version).whereNot({ status: 'retired' }).update({ status: 'retired' });
  }

  async claimSubjects(trx: Knex.Transaction, version: number, limit: number): Promise<IndexedSubjectRow[]> {
    const rows = await trx('subjects')
      .select('id', 'email')
      .whereNotNull('email')
      .andWhere((q) => q.whereNull('email_index_version').orWhere('email_index_version', '<', version))
      .limit(limit)
      .forUpdate()
      .skipLocked();
    return rows.map((r: { id: string; email: Buffer }) => ({ id: r.id, email: r.email as Sealed }));
  }

  async claimCards(trx: Knex.Transaction, version: number, limit: number): Promise<IndexedCardRow[]> {
    const rows = await trx('payment_methods').select('token', 'subject_id', 'card').where('fingerprint_version', '<', version).limit(limit).forUpdate().skipLocked();
    return rows.map((r: { token: string; subject_id: string; card: Buffer }) => ({ token: r.token, subjectId: r.subject_id, card: r.card as Sealed }));
  }

  async setEmailIndexes(trx: Knex.Transaction, rows: ReadonlyArray<{ id: string; value: Buffer }>, version: number): Promise<void> {
    if (rows.length === 0) return;
    await trx.raw(
      `update subjects as s set email_index = v.value, email_index_version = ?
         from unnest(?::text[], ?::bytea[]) as v(id, value) where s.id = v.id`,
      [version, rows.map((r) => r.id), rows.map((r) => r.value)],
    );
  }

  async setCardFingerprints(trx: Knex.Transaction, rows: ReadonlyArray<{ token: string; value: Buffer }>, version: number): Promise<void> {
    if (rows.length === 0) return;
    await trx.raw(
      `update payment_methods as p set fingerprint = v.value, fingerprint_version = ?
         from unnest(?::text[], ?::bytea[]) as v(token, value) where p.token = v.token`,
      [version, rows.map((r) => r.token), rows.map((r) => r.value)],
    );
  }

  /** Rows still indexed under a version older than `version` (a plain count: locked rows included). */
  async remaining(version: number, db: Knex = this.db): Promise<number> {
    const subjects = await db('subjects')
      .whereNotNull('email')
      .andWhere((q) => q.whereNull('email_index_version').orWhere('email_index_version', '<', version))
      .count<{ count: string }[]>('* as count')
      .first();
    const cards = await db('payment_methods').where('fingerprint_version', '<', version).count<{ count: string }[]>('* as count').first();
    return Number(subjects?.count ?? 0) + Number(cards?.count ?? 0);
  }
}
