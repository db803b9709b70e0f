import type { Knex } from 'knex';
import type { Sealed } from '../crypto/sealed';
import type { SubjectKeyRow } from './subject-keys';
import { withSession } from './database';
import { isConstraintViolation } from './database-errors';
import { TurnBatches } from './turn-batches';

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

/** A subject as a disclosure of some fields needs it: whom, what they chose, those sealed fields. */
export type SubjectFields = Pick<SubjectRecord, 'id' | 'preferences' | 'sealed'>;

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
/**
 * What a creation answers with, named rather than `*`: a session keeps its prepared statements,
 * and PostgreSQL refuses to run one whose result columns a later migration changed.
 */
const RECORD_COLUMNS = [...PLAIN_COLUMNS, ...SEALED_SUBJECT_FIELDS].join(', ');
/** The columns a creation may fill besides id and preferences, in the order its statement names them. */
const INSERTABLE_COLUMNS = ['preferences', 'external_id', ...SEALED_SUBJECT_FIELDS, 'email_index', 'email_index_version'] as const;
/** What a disclosure decides on besides the sealed fields: whom, and what they chose. */
const FIELDS_COLUMNS = ['id', 'preferences'] as const;

/** Most subjects one email search answers: an address shared by more is a household's, or a mistake. */
export const SEARCH_LIMIT = 20;
/** Most subjects one email search looks at, when those its purpose may not see are left out and more are looked for. */
export const SEARCH_SCAN_LIMIT = 200;

/**
 * A subject an email search found, and where it stands in the order the search pages through:
 * its creation time as PostgreSQL writes it (to the microsecond, which a Date would cut to the
 * millisecond, and a next page would then start before it).
 */
export interface SearchHit extends Pick<SubjectRecord, 'id' | 'preferences'> {
  created: string;
}
export type SearchPosition = Pick<SearchHit, 'id' | 'created'>;

interface KeyColumns {
  key_versions: number[] | null;
  key_generations: number[] | null;
  wrapped_keys: Buffer[] | null;
}

function sealedOf(row: Row): SubjectRecord['sealed'] {
  const sealed: SubjectRecord['sealed'] = {};
  for (const field of SEALED_SUBJECT_FIELDS) {
    // These columns only ever receive values the hierarchy sealed.
    if (row[field]) sealed[field] = row[field] as Sealed;
  }
  return sealed;
}

function toRecord(row: Row): SubjectRecord {
  return {
    id: row.id,
    externalId: row.external_id,
    sealed: sealedOf(row),
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

/** Most subject ids one shared read statement asks for (a single read may ask for more, alone). */
const MAX_IDS_PER_READ = 2000;

/** One caller's part of a shared read: its ids, those whose keys it needs, the columns of its shape. */
interface ShapedRead {
  ids: readonly string[];
  keysFor: ReadonlySet<string>;
  columns: readonly string[];
}

/** Most creations one shared insert statement holds (each is about a dozen parameters). */
const MAX_INSERTS_PER_STATEMENT = 100;

/** One creation: the columns it fills (`names`, the shape's bits as `shape`), their values in that order (the id first), its key's row. */
interface ShapedInsert {
  shape: number;
  names: readonly string[];
  values: readonly unknown[];
  key: SubjectKeyRow;
}

/** A creation's own outcome within a shared statement: its row, or why it was refused. */
type InsertAnswer = { row: Row } | { failed: unknown };

/**
 * `count` subjects of the same columns (`names`) and their first keys in one statement (a
 * data-modifying CTE): atomic without a transaction of its own. The parameters are every key's
 * four, then every subject's columns (insertValues).
 */
function insertStatement(names: readonly string[], count: number): string {
  const rows = Array.from({ length: count }, (_, n) => n);
  const keys = rows.map((n) => `($${n * 4 + 1}, $${n * 4 + 2}, $${n * 4 + 3}, $${n * 4 + 4})`);
  const subjects = rows.map((n) => `(${names.map((_, i) => `$${count * 4 + n * names.length + i + 1}`).join(', ')})`);
  return `with subject_key as (insert into subject_keys (subject_id, version, kek_generation_id, wrapped_key) values ${keys.join(', ')})
          insert into subjects (${names.join(', ')}) values ${subjects.join(', ')}
          returning ${RECORD_COLUMNS}`;
}

const insertValues = (inserts: readonly ShapedInsert[]) => [
  ...inserts.flatMap(({ key }) => [key.subjectId, key.version, key.kekGenerationId, key.wrappedKey]),
  ...inserts.flatMap(({ values }) => values),
];

/** The `subjects` table. */
export class SubjectStore {
  private readonly reads = new TurnBatches<ShapedRead, { rows: Row[]; keyRows: SubjectKeyRow[] }>(
    (name, reads) => this.readTogether(name, reads),
    (read) => read.ids.length,
    MAX_IDS_PER_READ,
  );
  private readonly inserts = new TurnBatches<ShapedInsert, InsertAnswer>((_shape, inserts) => this.insertTogether(inserts), () => 1, MAX_INSERTS_PER_STATEMENT);

  constructor(private readonly db: Knex) {}

  /**
   * A new subject and its first key in one statement (a data-modifying CTE): atomic without a
   * transaction of its own, so a creation is one round trip. Inside `trx` when given; otherwise
   * creations of the same shape asked for in one turn of the event loop share one statement,
   * and so one commit (see insertTogether). A creation with an external id goes alone: its unique
   * check may wait on another transaction that holds the same id, and a statement it shared would
   * wait with it, every other creation's answer and the storing of every key wrapped for it
   * (which a KEK rotation allows only so long) held up as long.
   */
  async insertWithKey(id: string, changes: SubjectChanges, key: SubjectKeyRow, trx?: Knex.Transaction): Promise<SubjectRecord> {
    const given = toColumns(changes);
    const columns: Record<string, unknown> = { id, preferences: JSON.stringify({}) };
    for (const column of INSERTABLE_COLUMNS) if (given[column] !== undefined) columns[column] = given[column];
    // Named by which columns it fills, so a session plans each shape once.
    const shape = INSERTABLE_COLUMNS.reduce((bits, column, i) => (column in columns ? bits | (1 << i) : bits), 0);
    const insert: ShapedInsert = { shape, names: Object.keys(columns), key, values: Object.values(columns) };
    if (trx) return toRecord(await this.insertAlone(trx, insert));
    if (changes.externalId) return toRecord(await this.insertAlone(this.db, insert));
    const answer = await this.inserts.ask(String(shape), insert);
    if ('failed' in answer) throw answer.failed;
    return toRecord(answer.row);
  }

  /** One creation's statement, on the session directly (see withSession; inside `trx`, its connection). */
  private async insertAlone(db: Knex, insert: ShapedInsert): Promise<Row> {
    const { shape, names } = insert;
    try {
      const { rows } = await withSession(db, (session) =>
        session.query<Row>({ name: `pdvault_subject_insert_${shape}`, text: insertStatement(names, 1), values: insertValues([insert]) }),
      );
      return rows[0]!;
    } catch (error) {
      throw translateUnique(error);
    }
  }

  /**
   * Creations asked for in the same turn, in one statement: under load each alone cost a round
   * trip, a backend wake-up and a commit that waits for its own WAL flush. Its rows have no unique
   * key but their random ids, so it waits on no other transaction. Should it break a constraint
   * all the same, none of it is stored, and each creation runs again alone to be answered for
   * itself. Any other failure (the database gone, or too slow) is every creation's, as it would be
   * alone.
   */
  private async insertTogether(inserts: readonly ShapedInsert[]): Promise<InsertAnswer[]> {
    const alone = (insert: ShapedInsert) => this.insertAlone(this.db, insert).then((row): InsertAnswer => ({ row }), (failed: unknown): InsertAnswer => ({ failed }));
    if (inserts.length === 1) return [await alone(inserts[0]!)];
    let rows: Row[];
    try {
      // Unnamed: its text differs with the number of creations, and a session keeps every statement it prepared by name.
      ({ rows } = await withSession(this.db, (session) => session.query<Row>({ text: insertStatement(inserts[0]!.names, inserts.length), values: insertValues(inserts) })));
    } catch (error) {
      if (!isConstraintViolation(error)) throw error;
      return Promise.all(inserts.map(alone));
    }
    const byId = new Map(rows.map((row) => [row.id, row]));
    return inserts.map((insert) => ({ row: byId.get(insert.values[0] as string)! }));
  }

  async versionOf(id: string): Promise<number | undefined> {
    const row = await this.db<Row>('subjects').select('version').where({ id }).first();
    return row?.version;
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
   */
  async findManyWithKeys(ids: readonly string[], keysFor: ReadonlySet<string>): Promise<{ records: Map<string, SubjectRecord>; keyRows: SubjectKeyRow[] }> {
    const { rows, keyRows } = await this.readWithKeys(ids, keysFor, PLAIN_COLUMNS, SEALED_SUBJECT_FIELDS, 'pdvault_subject_read');
    return { records: new Map(rows.map((row) => [row.id, toRecord(row)])), keyRows };
  }

  /**
   * As findManyWithKeys, but only what a disclosure of `fields` needs: the id, the subject's
   * choices and those sealed fields. A sealed column is the bulk of a row and the mailer needs
   * one of five; the columns left out (times among them) cost parsing on every row.
   */
  async findFieldsWithKeys(
    ids: readonly string[],
    keysFor: ReadonlySet<string>,
    fields: readonly SealedSubjectField[],
  ): Promise<{ records: Map<string, SubjectFields>; keyRows: SubjectKeyRow[] }> {
    const sealedColumns = SEALED_SUBJECT_FIELDS.filter((field) => fields.includes(field));
    // The name tells the shapes apart by which sealed columns they read, a bit each.
    const shape = SEALED_SUBJECT_FIELDS.reduce((bits, field, i) => (fields.includes(field) ? bits | (1 << i) : bits), 0);
    const { rows, keyRows } = await this.readWithKeys(ids, keysFor, FIELDS_COLUMNS, sealedColumns, `pdvault_subject_fields_${shape}`);
    return { records: new Map(rows.map((row) => [row.id, { id: row.id, preferences: row.preferences, sealed: sealedOf(row) }])), keyRows };
  }

  private readWithKeys(
    ids: readonly string[],
    keysFor: ReadonlySet<string>,
    plainColumns: readonly string[],
    sealedColumns: readonly SealedSubjectField[],
    name: string,
  ): Promise<{ rows: Row[]; keyRows: SubjectKeyRow[] }> {
    if (ids.length === 0) return Promise.resolve({ rows: [], keyRows: [] });
    // The name stands for the columns: reads of one shape in one turn go as one statement.
    return this.reads.ask(name, { ids, keysFor, columns: [...plainColumns, ...sealedColumns] });
  }

  /** One statement for the reads of one shape, each answered with its own subjects' rows and keys. */
  private async readTogether(name: string, reads: readonly ShapedRead[]): Promise<Array<{ rows: Row[]; keyRows: SubjectKeyRow[] }>> {
    // Alone in its turn (an idle vault, a batch): its statement's answer is all its own.
    if (reads.length === 1) return [await this.readOnce(reads[0]!.ids, reads[0]!.keysFor, reads[0]!.columns, name)];
    const ids = new Set(reads.flatMap((read) => read.ids));
    const keysFor = new Set(reads.flatMap((read) => [...read.keysFor]));
    const { rows, keyRows } = await this.readOnce([...ids], keysFor, reads[0]!.columns, name);
    return reads.map((read) => {
      const asked = new Set(read.ids);
      return { rows: rows.filter((row) => asked.has(row.id)), keyRows: keyRows.filter((key) => asked.has(key.subjectId) && read.keysFor.has(key.subjectId)) };
    });
  }

  private async readOnce(ids: readonly string[], keysFor: ReadonlySet<string>, columnNames: readonly string[], name: string): Promise<{ rows: Row[]; keyRows: SubjectKeyRow[] }> {
    const columns = columnNames.map((column) => `s.${column}`).join(', ');
    // The read every data request makes: on the session directly (see withSession), and named,
    // so each pooled session parses and plans each shape once instead of on every read.
    const { rows } = await withSession(this.db, (session) =>
      keysFor.size === 0
        ? session.query<Row & Partial<KeyColumns>>({ name, text: `select ${columns} from subjects s where s.id = any($1::text[])`, values: [[...ids]] })
        : session.query<Row & Partial<KeyColumns>>({
            name: `${name}_keys`,
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
    const keyRows: SubjectKeyRow[] = [];
    for (const row of rows) {
      row.key_versions?.forEach((version, i) => {
        // What the database holds in wrapped_key was sealed by the hierarchy; the brand only records that.
        keyRows.push({ subjectId: row.id, version, kekGenerationId: row.key_generations![i]!, wrappedKey: row.wrapped_keys![i]! as Sealed });
      });
    }
    return { rows, keyRows };
  }

  /** Writes the changes and bumps the version; the caller holds the row lock. */
  async update(id: string, changes: SubjectChanges, trx: Knex.Transaction): Promise<SubjectRecord> {
    try {
      const [row] = await trx('subjects')
        .where({ id })
        // clock_timestamp(), not now(): a writer that queued on the row lock began before the one it follows.
        .update({ ...toColumns(changes), version: trx.raw('version + 1'), updated_at: trx.raw('clock_timestamp()') })
        .returning('*');
      return toRecord(row as Row);
    } catch (error) {
      throw translateUnique(error);
    }
  }

  async delete(id: string, trx: Knex.Transaction): Promise<boolean> {
    return (await trx('subjects').where({ id }).delete()) > 0;
  }

  /**
   * The subjects whose email blind index matches one of the (version, index) pairs, at most
   * `limit` of them in order of creation (after `after`, the last of a previous page), with their
   * choices (which decide who may find them).
   */
  async findByEmailIndex(candidates: ReadonlyArray<{ version: number; value: Buffer }>, limit: number, after?: SearchPosition): Promise<SearchHit[]> {
    if (candidates.length === 0) return [];
    const query = this.db<Row>('subjects')
      .select('id', 'preferences', this.db.raw('created_at::text as created'))
      .where((match) => {
        for (const candidate of candidates) {
          match.orWhere((q) => q.where('email_index', candidate.value).andWhere('email_index_version', candidate.version));
        }
      })
      .orderBy([{ column: 'created_at' }, { column: 'id' }])
      .limit(limit);
    if (after) query.andWhereRaw('(created_at, id) > (?::timestamptz, ?)', [after.created, after.id]);
    const rows = (await query) as unknown as Array<Pick<Row, 'id' | 'preferences'> & { created: string }>;
    return rows.map((row) => ({ id: row.id, preferences: row.preferences, created: row.created }));
  }
}

function translateUnique(error: unknown): unknown {
  const pg = error as { code?: string; constraint?: string };
  if (pg.code === '23505' && pg.constraint?.includes('external_id')) return new ExternalIdTaken('external id already in use');
  return error;
}
