import type { Knex } from 'knex';
import type { Sealed } from '../crypto/sealed';
import type { SubjectKeyRow } from './subject-keys';
import { withSession } from './database';

export const SEALED_SUBJECT_FIELDS = ['email', 'name', 'phone', 'postal_address', 'birth_date'] as const;
export type SealedSubjectField = (typeof SEALED_SUBJECT_FIELDS)[number];

export type Preferences = Record<string, boolean>;

export interface SubjectRecord {
  id: string;
  externalId: string | null;
  sealed: Partial<Record<SealedSubjectField, Sealed>>;
  emailIndex: Buffer | null;
  emailIndexVersion: number | null;
  preferences: Preferences;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

/** What a write changes; a sealed field set to null is removed. */
export interface SubjectChanges {
  externalId?: string | null;
  sealed?: Partial<Record<SealedSubjectField, Sealed | null>>;
  emailIndex?: { value: Buffer; version: number } | null;
  preferences?: Preferences;
}

interface Row {
  id: string;
  external_id: string | null;
  email: Buffer | null;
  name: Buffer | null;
  phone: Buffer | null;
  postal_address: Buffer | null;
  birth_date: Buffer | null;
  email_index: Buffer | null;
  email_index_version: number | null;
  preferences: Preferences;
  version: number;
  created_at: Date;
  updated_at: Date;
}

/** Every column of `subjects` but the sealed ones (listed in SEALED_SUBJECT_FIELDS). */
const PLAIN_COLUMNS = ['id', 'external_id', 'email_index', 'email_index_version', 'preferences', 'version', 'created_at', 'updated_at'] as const;

interface KeyColumns {
  key_versions: number[] | null;
  key_generations: number[] | null;
  wrapped_keys: Buffer[] | null;
}

function toRecord(row: Row): SubjectRecord {
  const sealed: SubjectRecord['sealed'] = {};
  for (const field of SEALED_SUBJECT_FIELDS) {
    // These columns only ever receive values the hierarchy sealed.
    if (row[field]) sealed[field] = row[field] as Sealed;
  }
  return {
    id: row.id,
    externalId: row.external_id,
    sealed,
    emailIndex: row.email_index,
    emailIndexVersion: row.email_index_version,
    preferences: row.preferences,
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toColumns(changes: SubjectChanges): Record<string, unknown> {
  const columns: Record<string, unknown> = {};
  if (changes.externalId !== undefined) columns.external_id = changes.externalId;
  for (const [field, value] of Object.entries(changes.sealed ?? {})) columns[field] = value;
  if (changes.emailIndex !== undefined) {
    columns.email_index = changes.emailIndex?.value ?? null;
    columns.email_index_version = changes.emailIndex?.version ?? null;
  }
  if (changes.preferences !== undefined) columns.preferences = JSON.stringify(changes.preferences);
  return columns;
}

export class ExternalIdTaken extends Error {
  override name = 'ExternalIdTaken';
}

/** The `subjects` table. */
export class SubjectStore {
  constructor(private readonly db: Knex) {}

  /**
   * A new subject and its first key in one statement (a data-modifying CTE): atomic without a
   * transaction of its own, so a creation is one round trip. Inside `trx` when given.
   */
  async insertWithKey(id: string, changes: SubjectChanges, key: SubjectKeyRow, trx?: Knex.Transaction): Promise<SubjectRecord> {
    const db = trx ?? this.db;
    try {
      const [row] = await db
        .with('subject_key', db('subject_keys').insert({ subject_id: key.subjectId, version: key.version, kek_generation_id: key.kekGenerationId, wrapped_key: key.wrappedKey }))
        .insert({ id, preferences: JSON.stringify({}), ...toColumns(changes) })
        .into('subjects')
        .returning('*');
      return toRecord(row as Row);
    } catch (error) {
      throw translateUnique(error);
    }
  }

  async find(id: string, trx?: Knex.Transaction): Promise<SubjectRecord | undefined> {
    const row = await (trx ?? this.db)<Row>('subjects').where({ id }).first();
    return row ? toRecord(row) : undefined;
  }

  /** Reads and locks one subject for the rest of the transaction. */
  async findForUpdate(id: string, trx: Knex.Transaction): Promise<SubjectRecord | undefined> {
    const row = await trx<Row>('subjects').where({ id }).forUpdate().first();
    return row ? toRecord(row) : undefined;
  }

  async findMany(ids: readonly string[]): Promise<Map<string, SubjectRecord>> {
    const rows = ids.length ? await this.db<Row>('subjects').whereIn('id', ids as string[]) : [];
    return new Map(rows.map((row) => [row.id, toRecord(row)]));
  }

  /**
   * The rows of these subjects and, for those in `keysFor`, every wrapped key version beside
   * them: one round trip where a subject whose key is not in memory would otherwise take two.
   * Only the sealed `fields` asked for are read (the others are absent from the records): a
   * sealed column is the bulk of a row, and the mailer needs one of five.
   */
  async findManyWithKeys(
    ids: readonly string[],
    keysFor: ReadonlySet<string>,
    fields: readonly SealedSubjectField[] = SEALED_SUBJECT_FIELDS,
  ): Promise<{ records: Map<string, SubjectRecord>; keyRows: SubjectKeyRow[] }> {
    if (ids.length === 0) return { records: new Map(), keyRows: [] };
    const sealedColumns = SEALED_SUBJECT_FIELDS.filter((field) => fields.includes(field));
    const columns = [...PLAIN_COLUMNS, ...sealedColumns].map((column) => `s.${column}`).join(', ');
    // Named, so each pooled session parses and plans each shape once instead of on every read;
    // the name tells the shapes apart by which sealed columns they read (a bit each) and the keys.
    const shape = SEALED_SUBJECT_FIELDS.reduce((bits, field, i) => (fields.includes(field) ? bits | (1 << i) : bits), 0);
    const named = (withKeys: boolean) => ({ name: `pdvault_subject_read_${shape}${withKeys ? '_keys' : ''}` });
    // The read every data request makes: on the session directly (see withSession).
    const { rows } = await withSession(this.db, (session) =>
      keysFor.size === 0
        ? session.query<Row & Partial<KeyColumns>>({ ...named(false), text: `select ${columns} from subjects s where s.id = any($1::text[])`, values: [[...ids]] })
        : session.query<Row & Partial<KeyColumns>>({
            ...named(true),
            text: `select ${columns}, k.key_versions, k.key_generations, k.wrapped_keys
                     from subjects s
                     left join lateral (
                       select array_agg(version order by version) as key_versions,
                              array_agg(kek_generation_id order by version) as key_generations,
                              array_agg(wrapped_key order by version) as wrapped_keys
                         from subject_keys
                        where subject_id = s.id and s.id = any($1::text[])
                     ) k on true
                    where s.id = any($2::text[])`,
            values: [[...keysFor], [...ids]],
          }),
    );
    const records = new Map<string, SubjectRecord>();
    const keyRows: SubjectKeyRow[] = [];
    for (const row of rows) {
      records.set(row.id, toRecord(row));
      row.key_versions?.forEach((version, i) => {
        // What the database holds in wrapped_key was sealed by the hierarchy; the brand only records that.
        keyRows.push({ subjectId: row.id, version, kekGenerationId: row.key_generations![i]!, wrappedKey: row.wrapped_keys![i]! as Sealed });
      });
    }
    return { records, keyRows };
  }

  /** Writes the changes and bumps the version; the caller holds the row lock. */
  async update(id: string, changes: SubjectChanges, trx: Knex.Transaction): Promise<SubjectRecord> {
    try {
      const [row] = await trx('subjects')
        .where({ id })
        .update({ ...toColumns(changes), version: trx.raw('version + 1'), updated_at: trx.fn.now() })
        .returning('*');
      return toRecord(row as Row);
    } catch (error) {
      throw translateUnique(error);
    }
  }

  async delete(id: string, trx: Knex.Transaction): Promise<boolean> {
    return (await trx('subjects').where({ id }).delete()) > 0;
  }

  /** Subjects whose email blind index matches one of the given (version, index) pairs. */
  async findByEmailIndex(candidates: ReadonlyArray<{ version: number; value: Buffer }>): Promise<string[]> {
    if (candidates.length === 0) return [];
    const rows = await this.db<Row>('subjects')
      .select('id')
      .where((query) => {
        for (const candidate of candidates) {
          query.orWhere((q) => q.where('email_index', candidate.value).andWhere('email_index_version', candidate.version));
        }
      })
      .orderBy('created_at')
      .limit(20);
    return rows.map((row) => row.id);
  }
}

function translateUnique(error: unknown): unknown {
  const pg = error as { code?: string; constraint?: string };
  if (pg.code === '23505' && pg.constraint?.includes('external_id')) return new ExternalIdTaken('external id already in use');
  return error;
}
