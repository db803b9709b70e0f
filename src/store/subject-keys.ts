import type { Knex } from 'knex';
import type { Sealed } from '../crypto/sealed';

export interface SubjectKeyRow {
  subjectId: string;
  version: number;
  kekGenerationId: number;
  /** The subject key sealed under its KEK generation (ciphertext format, kind "subject key"). */
  wrappedKey: Sealed;
}

interface DbRow {
  subject_id: string;
  version: number;
  kek_generation_id: number;
  wrapped_key: Buffer;
}

const toRow = (row: DbRow): SubjectKeyRow => ({
  subjectId: row.subject_id,
  version: row.version,
  kekGenerationId: row.kek_generation_id,
  // What the database holds here was sealed by the hierarchy; the brand only records that.
  wrappedKey: row.wrapped_key as Sealed,
});

/** Thrown when a subject already has a key of that version (a unique violation). */
export class SubjectKeyExists extends Error {
  override name = 'SubjectKeyExists';
}

/** The `subject_keys` table: one wrapped 256-bit key per subject and key version. */
export class SubjectKeyStore {
  constructor(private readonly db: Knex) {}

  async listForSubject(subjectId: string, trx?: Knex.Transaction): Promise<SubjectKeyRow[]> {
    const rows = await (trx ?? this.db)<DbRow>('subject_keys')
      .select('subject_id', 'version', 'kek_generation_id', 'wrapped_key')
      .where({ subject_id: subjectId })
      .orderBy('version');
    return rows.map(toRow);
  }

  async insert(row: SubjectKeyRow, trx?: Knex.Transaction): Promise<void> {
    try {
      await (trx ?? this.db)('subject_keys').insert({
        subject_id: row.subjectId,
        version: row.version,
        kek_generation_id: row.kekGenerationId,
        wrapped_key: row.wrappedKey,
      });
    } catch (error) {
      if ((error as { code?: string }).code === '23505') throw new SubjectKeyExists('subject key already exists');
      throw error;
    }
  }

  /** Deletes every version of the subject's key; returns how many rows went. */
  async deleteForSubject(subjectId: string, trx?: Knex.Transaction): Promise<number> {
    return (trx ?? this.db)('subject_keys').where({ subject_id: subjectId }).delete();
  }
}
