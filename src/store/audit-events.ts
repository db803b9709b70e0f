import type { Knex } from 'knex';
import type { QueryResult } from 'pg';
import { withSession, type Database } from './database';

/** An audit event as stored: ids, names and codes only, never a personal value. */
export interface AuditRow {
  seq: number;
  occurredAt: Date;
  action: string;
  outcome: 'allowed' | 'denied';
  reason: string | null;
  clientId: string | null;
  purpose: string | null;
  scopes: string[];
  subjectId: string | null;
  fields: Record<string, string>;
  policyVersion: number | null;
  requestId: string | null;
  sourceAddress: string | null;
  target: string | null;
  prevHash: Buffer;
  hash: Buffer;
  /**
   * The row's members but the two hashes as one JSON object under the column names, when the
   * chain has already written it (its canonical form is exactly that); inserted as it is.
   */
  canonical?: string;
}

export interface ChainHead {
  seq: number;
  hash: Buffer;
}

export interface AuditFilter {
  subjectId?: string;
  clientId?: string;
  purpose?: string;
  outcome?: 'allowed' | 'denied';
  action?: string;
  /** Leaves out actions starting with any of these (the access log leaves out reads of the trail itself). */
  excludeActionPrefixes?: readonly string[];
  /** Leaves out refusals under any of these purposes (the access log leaves out refused legal-disclosure reads). */
  excludeDeniedPurposes?: readonly string[];
  since?: Date;
  until?: Date;
  /** Newest first: only events older than this sequence number (the cursor). */
  beforeSeq?: number;
}

interface Row {
  seq: string | number;
  occurred_at: Date;
  action: string;
  outcome: 'allowed' | 'denied';
  reason: string | null;
  client_id: string | null;
  purpose: string | null;
  scopes: string[];
  subject_id: string | null;
  fields: Record<string, string>;
  policy_version: number | null;
  request_id: string | null;
  source_address: string | null;
  target: string | null;
  prev_hash: Buffer;
  hash: Buffer;
}

// The group's rows travel as one JSON parameter (no bind-parameter limit, no per-row query
// building) and are inserted by one statement, whatever the group's size.
const INSERT_ROWS = `insert into audit_events (seq, occurred_at, action, outcome, reason, client_id, purpose, scopes, subject_id, fields,
                           policy_version, request_id, source_address, target, prev_hash, hash)
 select r.seq, r.occurred_at, r.action, r.outcome, r.reason, r.client_id, r.purpose,
        array(select jsonb_array_elements_text(r.scopes)), r.subject_id, r.fields, r.policy_version,
        r.request_id, r.source_address, r.target, decode(r.prev_hash, 'hex'), decode(r.hash, 'hex')
   from jsonb_to_recordset($1::jsonb) as r(seq bigint, occurred_at timestamptz, action text, outcome text, reason text,
        client_id text, purpose text, scopes jsonb, subject_id text, fields jsonb, policy_version integer,
        request_id text, source_address text, target text, prev_hash text, hash text)`;

// Under the head's row lock, in the transaction that took it: the rows, and the head moves with them.
const APPEND_ROWS = `with inserted as (${INSERT_ROWS} returning 1)
 update audit_chain_head set seq = $2, hash = $3 where id = true`;

// On its own, committed as it completes: the head moves only from where the rows were chained
// ($4, $5), and the rows go in only if it moved. A writer that committed first holds the row lock
// until it commits; this statement then finds the head elsewhere and changes nothing.
const APPEND_AFTER = `with moved as (update audit_chain_head set seq = $2, hash = $3 where id = true and seq = $4 and hash = $5 returning 1)
 ${INSERT_ROWS}
  where exists (select 1 from moved)`;

/** How long after another writer was seen moving the head this store goes straight to the lock. */
const CONTENDED_MS = 1000;

/** The `audit_events` table and its chain head. Rows are only ever inserted. */
export class AuditEventStore {
  /** The head as this store's last append left it; unknown after a failure. */
  private lastHead?: ChainHead;
  /** When an append last found that another writer (another instance) had moved the head. */
  private contendedAt = -Infinity;

  constructor(private readonly db: Database) {}

  /**
   * Appends `build`'s rows to the chain: `build` receives the head and returns the rows chained
   * after it. Concurrent writers on any instance keep one linear chain.
   *
   * Every audited request waits for one of these. While this store is the only writer (one
   * instance, or the others idle), the head is the one its own last append left, so the rows are
   * chained after that and go in with one statement that moves the head only from there: one
   * round trip and one transaction. If another writer moved the head meanwhile, that statement
   * changes nothing and the append takes the lock (appendLocked), as it does for a while after
   * seeing another writer, so instances that write all the time do not each pay a wasted try.
   */
  async appendChained(build: (head: ChainHead) => AuditRow[]): Promise<void> {
    const known = this.lastHead;
    // Unknown until this append settles: a failure leaves the head wherever the database has it.
    this.lastHead = undefined;
    if (known && performance.now() - this.contendedAt >= CONTENDED_MS) {
      const rows = build(known);
      if (rows.length === 0) {
        this.lastHead = known;
        return;
      }
      if (await this.appendAfter(known, rows)) {
        this.lastHead = headAfter(rows);
        return;
      }
    }
    const { head, rows } = await this.appendLocked(build);
    // Another writer moved the head since this store's last append (a lock-free try found the same).
    if (known && (head.seq !== known.seq || !head.hash.equals(known.hash))) this.contendedAt = performance.now();
    this.lastHead = rows.length > 0 ? headAfter(rows) : head;
  }

  /** The rows, if the head is still `expected`; false (and nothing written) if it has moved. */
  private async appendAfter(expected: ChainHead, rows: AuditRow[]): Promise<boolean> {
    const last = rows[rows.length - 1]!;
    const inserted = await withSession(this.db, (session) =>
      session.query({ name: 'pdvault_audit_append_after', text: APPEND_AFTER, values: [rowsAsJson(rows), last.seq, last.hash, expected.seq, expected.hash] }),
    );
    if (inserted.rowCount !== 0 && inserted.rowCount !== rows.length) throw new Error(`the audit append inserted ${inserted.rowCount} of ${rows.length} rows`);
    return inserted.rowCount === rows.length;
  }

  /**
   * Under the chain-head row lock, in one transaction: `build` receives the head as PostgreSQL
   * holds it (never a copy from memory). Three round trips (open and lock; insert and move the
   * head; commit) on a session used directly rather than four through knex.
   */
  private async appendLocked(build: (head: ChainHead) => AuditRow[]): Promise<{ head: ChainHead; rows: AuditRow[] }> {
    return withSession(this.db, async (session, discard) => {
      try {
        const [, locked] = (await session.query('begin; select seq, hash from audit_chain_head where id for update')) as QueryResult[];
        const row = locked?.rows[0] as { seq: string; hash: Buffer } | undefined;
        if (!row) throw new Error('the audit chain head row is missing');
        const head = { seq: Number(row.seq), hash: row.hash };
        const rows = build(head);
        if (rows.length > 0) {
          const last = rows[rows.length - 1]!;
          await session.query({ name: 'pdvault_audit_append', text: APPEND_ROWS, values: [rowsAsJson(rows), last.seq, last.hash] });
        }
        const committed = (await session.query('commit')) as QueryResult;
        // PostgreSQL answers COMMIT with ROLLBACK, not an error, for a transaction it had aborted.
        if (committed.command !== 'COMMIT') throw new Error(`the audit transaction ended with ${committed.command}`);
        return { head, rows };
      } catch (error) {
        // A session whose transaction cannot be rolled back is closed, never reused half-open.
        await session.query('rollback').catch(() => discard(error));
        throw error;
      }
    });
  }

  async head(db: Knex = this.db): Promise<ChainHead> {
    const head = await db('audit_chain_head').select('seq', 'hash').where({ id: true }).first<{ seq: string; hash: Buffer }>();
    return { seq: Number(head?.seq ?? 0), hash: head?.hash ?? Buffer.alloc(32) };
  }

  /** Oldest first, from `afterSeq` (exclusive): the order the chain is verified in. */
  async pageAscending(afterSeq: number, limit: number, db: Knex = this.db): Promise<AuditRow[]> {
    const rows = await db<Row>('audit_events').where('seq', '>', afterSeq).orderBy('seq').limit(limit);
    return rows.map(toAuditRow);
  }

  async findBySeq(seq: number, db: Knex = this.db): Promise<AuditRow | undefined> {
    const row = await db<Row>('audit_events').where({ seq }).first();
    return row && toAuditRow(row);
  }

  async maxSeq(db: Knex = this.db): Promise<number> {
    const row = await db('audit_events').max<{ max: string | null }>('seq as max').first();
    return Number(row?.max ?? 0);
  }

  /** Newest first, filtered; `limit` rows at most. */
  async query(filter: AuditFilter, limit: number): Promise<AuditRow[]> {
    const query = this.db<Row>('audit_events').orderBy('seq', 'desc').limit(limit);
    if (filter.subjectId !== undefined) query.where('subject_id', filter.subjectId);
    if (filter.clientId !== undefined) query.where('client_id', filter.clientId);
    if (filter.purpose !== undefined) query.where('purpose', filter.purpose);
    if (filter.outcome !== undefined) query.where('outcome', filter.outcome);
    if (filter.action !== undefined) query.where('action', filter.action);
    for (const prefix of filter.excludeActionPrefixes ?? []) query.whereNot('action', 'like', `${prefix.replace(/[\\%_]/g, '\\$&')}%`);
    // coalesce: an event without a purpose must not turn the condition unknown and drop out.
    if (filter.excludeDeniedPurposes?.length) query.whereRaw(`not (outcome = 'denied' and coalesce(purpose, '') = any(?::text[]))`, [[...filter.excludeDeniedPurposes]]);
    if (filter.since !== undefined) query.where('occurred_at', '>=', filter.since);
    if (filter.until !== undefined) query.where('occurred_at', '<', filter.until);
    if (filter.beforeSeq !== undefined) query.where('seq', '<', filter.beforeSeq);
    return (await query).map(toAuditRow);
  }
}

const headAfter = (rows: readonly AuditRow[]): ChainHead => ({ seq: rows[rows.length - 1]!.seq, hash: rows[rows.length - 1]!.hash });

/** The rows as one JSON array for the insert: each the chain's canonical text with the hashes added, or encoded here. */
function rowsAsJson(rows: readonly AuditRow[]): string {
  const encoded = rows.map((row) =>
    row.canonical === undefined
      ? JSON.stringify(auditRowAsJson(row))
      : `${row.canonical.slice(0, -1)},"prev_hash":"${row.prevHash.toString('hex')}","hash":"${row.hash.toString('hex')}"}`,
  );
  return `[${encoded.join(',')}]`;
}

/** A row as JSON with the column names: hashes as hex, the time as ISO 8601 (millisecond precision, as stored). */
export const auditRowAsJson = (row: AuditRow) => ({
  seq: row.seq,
  occurred_at: row.occurredAt.toISOString(),
  action: row.action,
  outcome: row.outcome,
  reason: row.reason,
  client_id: row.clientId,
  purpose: row.purpose,
  scopes: row.scopes,
  subject_id: row.subjectId,
  fields: row.fields,
  policy_version: row.policyVersion,
  request_id: row.requestId,
  source_address: row.sourceAddress,
  target: row.target,
  prev_hash: row.prevHash.toString('hex'),
  hash: row.hash.toString('hex'),
});

const toAuditRow = (row: Row): AuditRow => ({
  seq: Number(row.seq),
  occurredAt: row.occurred_at,
  action: row.action,
  outcome: row.outcome,
  reason: row.reason,
  clientId: row.client_id,
  purpose: row.purpose,
  scopes: row.scopes,
  subjectId: row.subject_id,
  fields: row.fields,
  policyVersion: row.policy_version,
  requestId: row.request_id,
  sourceAddress: row.source_address,
  target: row.target,
  prevHash: row.prev_hash,
  hash: row.hash,
});
