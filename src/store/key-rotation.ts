import type { Knex } from 'knex';
import type { Sealed } from '../crypto/sealed';
import type { SubjectKeyRow } from './subject-keys';

/** A table column that holds a vault secret sealed directly under a KEK generation. */
export interface SealedSecretColumn {
  table: 'signing_keys' | 'blind_index_keys';
  idColumn: 'kid' | 'version';
  sealedColumn: 'sealed_private_key' | 'sealed_key';
}

export interface SealedSecretRow {
  id: string;
  sealed: Sealed;
}

/** The SQL of rotation jobs over `subject_keys`, `kek_generations` and sealed vault secrets. */
export class KeyRotationStore {
  constructor(private readonly db: Knex) {}

  /** One batch, committed with its progress or not at all. */
  transaction<T>(work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
    return this.db.transaction(work);
  }

  /** Generations not destroyed whose wrapped key is still under another provider key than `keyRef`. */
  async generationsNotUnder(keyRef: string, db: Knex = this.db): Promise<number[]> {
    const rows = await db('kek_generations').select('id').whereNot({ state: 'destroyed' }).andWhereNot({ provider_key_ref: keyRef }).orderBy('id');
    return rows.map((r: { id: number }) => r.id);
  }

  /**
   * One generation not yet under `keyRef`, locked until `trx` ends; generations other
   * transactions hold are passed over, so concurrent re-wraps each take another.
   */
  async claimGenerationNotUnder(keyRef: string, trx: Knex.Transaction): Promise<number | undefined> {
    const row = await trx('kek_generations').select('id').whereNot({ state: 'destroyed' }).andWhereNot({ provider_key_ref: keyRef }).orderBy('id').first().forUpdate().skipLocked();
    return (row as { id: number } | undefined)?.id;
  }

  /** Provider keys still referenced by a live generation. */
  async providerKeysInUse(): Promise<string[]> {
    const rows = await this.db('kek_generations').distinct('provider_key_ref').whereNot({ state: 'destroyed' }).orderBy('provider_key_ref');
    return rows.map((r: { provider_key_ref: string }) => r.provider_key_ref);
  }

  /** The provider key a KMS key rotation moved to, shared by every instance (`vault_meta`). */
  async currentProviderKey(): Promise<string | undefined> {
    const row = await this.db('vault_meta').select('value').where({ key: 'kms_key_ref' }).first();
    return row?.value;
  }

  async setCurrentProviderKey(keyRef: string, db: Knex = this.db): Promise<void> {
    await db('vault_meta').insert({ key: 'kms_key_ref', value: keyRef }).onConflict('key').merge({ value: keyRef, updated_at: db.fn.now() });
  }

  /**
   * Claims up to `limit` subject keys wrapped by a generation older than `targetGenerationId`,
   * locked for the rest of `trx`. SKIP LOCKED: two instances working on one job take disjoint batches.
   */
  async claimSubjectKeysBelow(trx: Knex.Transaction, targetGenerationId: number, limit: number): Promise<SubjectKeyRow[]> {
    const rows = await trx('subject_keys')
      .select('subject_id', 'version', 'kek_generation_id', 'wrapped_key')
      .where('kek_generation_id', '<', targetGenerationId)
      .limit(limit)
      .forUpdate()
      .skipLocked();
    return rows.map((row: { subject_id: string; version: number; kek_generation_id: number; wrapped_key: Buffer }) => ({
      subjectId: row.subject_id,
      version: row.version,
      kekGenerationId: row.kek_generation_id,
      wrappedKey: row.wrapped_key as Sealed,
    }));
  }

  /** Writes re-wrapped keys in one statement (arrays unnested), for rows the caller holds locked. */
  async replaceWrappedSubjectKeys(trx: Knex.Transaction, rows: readonly SubjectKeyRow[]): Promise<number> {
    if (rows.length === 0) return 0;
    const result = await trx.raw(
      `update subject_keys as k set wrapped_key = v.wrapped_key, kek_generation_id = v.kek_generation_id
         from unnest(?::text[], ?::int[], ?::int[], ?::bytea[]) as v(subject_id, version, kek_generation_id, wrapped_key)
        where k.subject_id = v.subject_id and k.version = v.version`,
      [rows.map((r) => r.subjectId), rows.map((r) => r.version), rows.map((r) => r.kekGenerationId), rows.map((r) => r.wrappedKey)],
    );
    return (result as { rowCount: number }).rowCount;
  }

  /** Many new subject keys in one statement (bulk creation). */
  async insertSubjectKeys(rows: readonly SubjectKeyRow[], trx?: Knex.Transaction): Promise<void> {
    if (rows.length === 0) return;
    await (trx ?? this.db)('subject_keys').insert(
      rows.map((row) => ({ subject_id: row.subjectId, version: row.version, kek_generation_id: row.kekGenerationId, wrapped_key: row.wrappedKey })),
    );
  }

  /** Subject-key rotation: the versions older than `version` go, and with them what they sealed. */
  async deleteSubjectKeysBelow(trx: Knex.Transaction, subjectId: string, version: number): Promise<number> {
    return trx('subject_keys').where({ subject_id: subjectId }).andWhere('version', '<', version).delete();
  }

  async countSubjectKeys(db: Knex = this.db): Promise<number> {
    const row = await db('subject_keys').count<{ count: string }[]>('* as count').first();
    return Number(row?.count ?? 0);
  }

  async countSubjectKeysBelow(targetGenerationId: number, db: Knex = this.db): Promise<number> {
    const row = await db('subject_keys').where('kek_generation_id', '<', targetGenerationId).count<{ count: string }[]>('* as count').first();
    return Number(row?.count ?? 0);
  }

  /** How many subject keys each KEK generation wraps. */
  async subjectKeysByGeneration(): Promise<Map<number, number>> {
    const rows = await this.db('subject_keys').select('kek_generation_id').count('* as count').groupBy('kek_generation_id');
    return new Map(rows.map((row) => [Number(row.kek_generation_id), Number(row.count)]));
  }

  async subjectKeysOfGeneration(generationId: number, db: Knex = this.db): Promise<number> {
    const row = await db('subject_keys').where({ kek_generation_id: generationId }).count<{ count: string }[]>('* as count').first();
    return Number(row?.count ?? 0);
  }

  /** Every generation older than `targetGenerationId` that still wraps or may wrap keys stops taking wraps. */
  async markRetiring(trx: Knex.Transaction, targetGenerationId: number): Promise<void> {
    await trx('kek_generations')
      .where('id', '<', targetGenerationId)
      .whereIn('state', ['active', 'retired'])
      .update({ state: 'retiring', retired_at: trx.raw('coalesce(retired_at, now())') });
  }

  /** The job is done with them: retiring generations below the target become retired. */
  async finishRetiring(targetGenerationId: number, db: Knex = this.db): Promise<void> {
    await db('kek_generations').where('id', '<', targetGenerationId).andWhere({ state: 'retiring' }).update({ state: 'retired' });
  }

  /** Wraps made by a re-wrap batch count against the generation's nonce budget like any other. */
  async addWraps(trx: Knex.Transaction, generationId: number, count: number): Promise<void> {
    await trx('kek_generations').where({ id: generationId }).increment('wrap_count', count);
  }

  /** Crypto-shreds a retired generation: its provider-wrapped key is deleted; the id is never reused. */
  async destroyGeneration(trx: Knex.Transaction, generationId: number): Promise<boolean> {
    const updated = await trx('kek_generations')
      .where({ id: generationId, state: 'retired' })
      .update({ state: 'destroyed', wrapped_key: null, destroyed_at: trx.fn.now() });
    return Number(updated) === 1;
  }

  async lockGeneration(trx: Knex.Transaction, generationId: number): Promise<{ state: string } | undefined> {
    return trx('kek_generations').select('state').where({ id: generationId }).forUpdate().first();
  }

  async generationTimes(): Promise<Map<number, { createdAt: Date; retiredAt: Date | null; destroyedAt: Date | null }>> {
    const rows = await this.db('kek_generations').select('id', 'created_at', 'retired_at', 'destroyed_at');
    return new Map(rows.map((r) => [r.id as number, { createdAt: r.created_at, retiredAt: r.retired_at, destroyedAt: r.destroyed_at }]));
  }

  async listSecrets(column: SealedSecretColumn, db: Knex = this.db): Promise<SealedSecretRow[]> {
    const rows = await db(column.table).select(`${column.idColumn} as id`, `${column.sealedColumn} as sealed`);
    return rows.map((r: { id: string | number; sealed: Buffer }) => ({ id: String(r.id), sealed: r.sealed as Sealed }));
  }

  /** Replaces a secret's ciphertext only if it is still `previous` (another instance may have re-sealed it meanwhile). */
  async replaceSecretIfUnchanged(column: SealedSecretColumn, id: string, previous: Sealed, sealed: Sealed): Promise<void> {
    await this.db(column.table)
      .where({ [column.idColumn]: column.idColumn === 'version' ? Number(id) : id, [column.sealedColumn]: previous })
      .update({ [column.sealedColumn]: sealed });
  }
}
