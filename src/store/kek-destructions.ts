import type { Knex } from 'knex';

export interface KekDestructionRow {
  kekGenerationId: number;
  requestedBy: string;
  requestedAt: Date;
  approvedBy: string | null;
  approvedAt: Date | null;
}

interface DbRow {
  kek_generation_id: number;
  requested_by: string;
  requested_at: Date;
  approved_by: string | null;
  approved_at: Date | null;
}

const toRow = (row: DbRow): KekDestructionRow => ({
  kekGenerationId: row.kek_generation_id,
  requestedBy: row.requested_by,
  requestedAt: row.requested_at,
  approvedBy: row.approved_by,
  approvedAt: row.approved_at,
});

/** The `kek_destructions` table: who asked to destroy a KEK generation, and which other admin approved. */
export class KekDestructionStore {
  constructor(private readonly db: Knex) {}

  /** Records the request unless one exists; returns the row that stands. */
  async request(generationId: number, requestedBy: string): Promise<KekDestructionRow> {
    await this.db('kek_destructions').insert({ kek_generation_id: generationId, requested_by: requestedBy }).onConflict('kek_generation_id').ignore();
    return (await this.find(generationId))!;
  }

  async find(generationId: number, db: Knex = this.db): Promise<KekDestructionRow | undefined> {
    const row = (await db('kek_destructions').where({ kek_generation_id: generationId }).first()) as DbRow | undefined;
    return row ? toRow(row) : undefined;
  }

  /** Approves a pending request by someone other than its requester; false when that no longer holds. */
  async approve(trx: Knex.Transaction, generationId: number, approvedBy: string): Promise<boolean> {
    const updated = await trx('kek_destructions')
      .where({ kek_generation_id: generationId })
      .whereNull('approved_at')
      .whereNot({ requested_by: approvedBy })
      .update({ approved_by: approvedBy, approved_at: trx.fn.now() });
    return Number(updated) === 1;
  }
}
