import type { Knex } from 'knex';

export type KekGenerationState = 'active' | 'retired' | 'destroyed';

export interface KekGenerationRow {
  id: number;
  state: KekGenerationState;
  provider: string;
  providerKeyRef: string;
  /** The provider's ciphertext of the generation's data key; null once destroyed. */
  wrappedKey: Buffer | null;
  wrapCount: number;
}

export interface NewKekGeneration {
  id: number;
  provider: string;
  providerKeyRef: string;
  wrappedKey: Buffer;
}

interface DbRow {
  id: number;
  state: KekGenerationState;
  provider: string;
  provider_key_ref: string;
  wrapped_key: Buffer | null;
  wrap_count: string | number;
}

const COLUMNS = ['id', 'state', 'provider', 'provider_key_ref', 'wrapped_key', 'wrap_count'];
// One lock id for "creating a KEK generation", shared by every instance on this database.
const ROTATION_LOCK = 0x70647661_0001n;

const toRow = (row: DbRow): KekGenerationRow => ({
  id: row.id,
  state: row.state,
  provider: row.provider,
  providerKeyRef: row.provider_key_ref,
  wrappedKey: row.wrapped_key,
  wrapCount: Number(row.wrap_count),
});

/** The `kek_generations` table. Holds only provider-wrapped keys, never a plaintext one. */
export class KekGenerationStore {
  constructor(private readonly db: Knex) {}

  async findById(id: number, db: Knex = this.db): Promise<KekGenerationRow | undefined> {
    const row = (await db('kek_generations').select(COLUMNS).where({ id }).first()) as DbRow | undefined;
    return row ? toRow(row) : undefined;
  }

  async findActive(db: Knex = this.db): Promise<KekGenerationRow | undefined> {
    const row = (await db('kek_generations').select(COLUMNS).where({ state: 'active' }).first()) as DbRow | undefined;
    return row ? toRow(row) : undefined;
  }

  async list(): Promise<KekGenerationRow[]> {
    const rows = (await this.db('kek_generations').select(COLUMNS).orderBy('id')) as DbRow[];
    return rows.map(toRow);
  }

  /**
   * Reserves `count` wraps under an active generation, in one autocommitted statement so a
   * caller's rollback can never undo a reservation. Returns false when the generation is no
   * longer active or the reservation would pass `maxWraps`.
   */
  async reserveWraps(id: number, count: number, maxWraps: number): Promise<boolean> {
    const updated = await this.db('kek_generations')
      .where({ id, state: 'active' })
      .andWhereRaw('wrap_count + ? <= ?', [count, maxWraps])
      .increment('wrap_count', count);
    return Number(updated) === 1;
  }

  /**
   * Runs `create` under a database-wide lock, so two instances never create generations at
   * once; the caller re-reads the active generation inside to see another instance's work.
   */
  async withRotationLock<T>(create: (trx: Knex.Transaction) => Promise<T>, db: Knex = this.db): Promise<T> {
    // Inside a caller's transaction this is a savepoint; the lock is held until that transaction ends.
    return db.transaction(async (trx) => {
      await trx.raw('select pg_advisory_xact_lock(?::bigint)', [ROTATION_LOCK.toString()]);
      return create(trx);
    });
  }

  async nextId(trx: Knex.Transaction): Promise<number> {
    const row = await trx('kek_generations').max<{ max: number | null }>('id as max').first();
    return (row?.max ?? 0) + 1;
  }

  /** Retires the active generation (if any) and inserts `generation` as the active one. */
  async activate(trx: Knex.Transaction, generation: NewKekGeneration): Promise<void> {
    await trx('kek_generations').where({ state: 'active' }).update({ state: 'retired', retired_at: trx.fn.now() });
    await trx('kek_generations').insert({
      id: generation.id,
      state: 'active',
      provider: generation.provider,
      provider_key_ref: generation.providerKeyRef,
      wrapped_key: generation.wrappedKey,
      wrap_count: 0,
    });
  }

  /**
   * Replaces a generation's wrapped key after the provider re-encrypted it (KMS key rotation);
   * whether this write moved it to `providerKeyRef` (false when it was there already, or destroyed).
   */
  async replaceWrappedKey(id: number, wrappedKey: Buffer, providerKeyRef: string, db: Knex = this.db): Promise<boolean> {
    const moved = await db('kek_generations')
      .where({ id })
      .whereNot({ state: 'destroyed' })
      .whereNot({ provider_key_ref: providerKeyRef })
      .update({ wrapped_key: wrappedKey, provider_key_ref: providerKeyRef });
    return moved > 0;
  }
}
