import { VaultError } from '../errors/vault-error';
import { auditRowAsJson, type AuditEventStore, type AuditFilter, type AuditRow } from '../store/audit-events';
import type { AuditSink } from './writer';
import type { ChainVerification, ChainVerifier } from './verify';
import { holdsNumber } from '../observability/planted-numbers';

/** Who reads the trail, and from where: the read is itself an audit event. */
export interface AuditReader {
  clientId: string;
  scopes: string[];
  requestId: string;
  sourceAddress?: string;
}

export interface AuditQuery {
  subjectId?: string;
  clientId?: string;
  purpose?: string;
  outcome?: 'allowed' | 'denied';
  action?: string;
  since?: Date;
  until?: Date;
  limit: number;
  cursor?: string;
}

/** An event as GET /v1/admin/audit shows it. */
export interface AuditEventView {
  seq: number;
  occurred_at: string;
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
  hash: string;
}

/** One line of a subject's access log: who touched its data, for which purpose, when, with what result. */
export interface AccessLogEntry {
  occurred_at: string;
  client_id: string | null;
  purpose: string | null;
  action: string;
  fields: Record<string, string>;
  outcome: 'allowed' | 'denied';
  reason: string | null;
  /** The vault's own id of the request: an allowed change and its `not_done:…` refusal share it. */
  request_id: string | null;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/**
 * Reading the trail back: filtered queries, a subject's access log, verification. Each read is
 * committed to the trail before its answer is returned (fail closed, as for any other access).
 */
export class AuditTrail {
  constructor(
    private readonly store: AuditEventStore,
    private readonly writer: AuditSink,
    private readonly verifier: ChainVerifier,
  ) {}

  async query(query: AuditQuery, reader: AuditReader): Promise<Page<AuditEventView>> {
    const page = await this.page(
      { subjectId: query.subjectId, clientId: query.clientId, purpose: query.purpose, outcome: query.outcome, action: query.action, since: query.since, until: query.until },
      query,
    );
    // The filters are the auditor's text: one holding a number (a card number typed into the
    // subject filter) is kept out of the trail, and the event says the query was made.
    const named = (id: string | undefined) => (id !== undefined && !holdsNumber(id) ? id : undefined);
    await this.writer.append([{ ...eventOf('audit.query', reader), subjectId: named(query.subjectId), target: named(query.clientId) }]);
    return { items: page.rows.map(viewOf), nextCursor: page.nextCursor };
  }

  async accessLog(subjectId: string, query: Pick<AuditQuery, 'limit' | 'cursor'>, reader: AuditReader): Promise<Page<AccessLogEntry>> {
    const page = await this.page({ subjectId, ...ACCESS_LOG_LEAVES_OUT }, query);
    await this.writer.append([{ ...eventOf('audit.access_log', reader), subjectId: holdsNumber(subjectId) ? undefined : subjectId }]);
    return { items: page.rows.map(accessLogEntryOf), nextCursor: page.nextCursor };
  }

  /** A subject's whole access log (for its export), read a page at a time; one event for the read. */
  async wholeAccessLog(subjectId: string, reader: AuditReader): Promise<AccessLogEntry[]> {
    const entries: AccessLogEntry[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.page({ subjectId, ...ACCESS_LOG_LEAVES_OUT }, { limit: WHOLE_LOG_PAGE, cursor });
      entries.push(...page.rows.map(accessLogEntryOf));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    await this.writer.append([{ ...eventOf('audit.access_log', reader), subjectId }]);
    return entries;
  }

  /**
   * The verification is audited like any read, with one exception: when the chain is broken,
   * the writers may be unable to append (a forged event where the next one belongs), and the
   * report of why is returned even though its own event could not be written. It holds no
   * personal data.
   */
  async verify(reader: AuditReader): Promise<ChainVerification> {
    const result = await this.verifier.verify();
    try {
      await this.writer.append([{ ...eventOf('audit.verify', reader), target: result.first_broken_seq === null ? undefined : `seq:${result.first_broken_seq}` }]);
    } catch (error) {
      if (result.ok || !(error instanceof VaultError) || error.code !== 'audit_unavailable') throw error;
    }
    return result;
  }

  private async page(filter: AuditFilter, query: Pick<AuditQuery, 'limit' | 'cursor'>): Promise<{ rows: AuditRow[]; nextCursor: string | null }> {
    const beforeSeq = query.cursor === undefined ? undefined : parseCursor(query.cursor);
    const rows = await this.store.query({ ...filter, beforeSeq }, query.limit + 1);
    const more = rows.length > query.limit;
    const shown = rows.slice(0, query.limit);
    return { rows: shown, nextCursor: more ? cursorOf(shown[shown.length - 1]!.seq) : null };
  }
}

/**
 * What a subject's access log leaves out: reads of the trail itself, the break-glass approval
 * workflow, and every refused legal-disclosure attempt (a read before its approval, or anything
 * else such a client was refused), which would announce a legal disclosure before it happens
 * (and name the administrators). The disclosure itself, once made, is a data access like any
 * other and shows.
 */
const ACCESS_LOG_LEAVES_OUT: Pick<AuditFilter, 'excludeActionPrefixes' | 'excludeDeniedPurposes'> = {
  excludeActionPrefixes: ['audit.', 'approval.'],
  excludeDeniedPurposes: ['legal_disclosure'],
};
const WHOLE_LOG_PAGE = 1000;

/** Cursors are opaque to clients: the sequence number the next page starts below. */
const cursorOf = (seq: number) => Buffer.from(`seq:${seq}`).toString('base64url');

function parseCursor(cursor: string): number {
  // Only what cursorOf writes: the decoder would skip characters it cannot read, so check them first.
  // … and only as cursorOf writes it: the number with no leading zero, the encoding unpadded.
  const match = /^[A-Za-z0-9_-]+$/.test(cursor) ? /^seq:([1-9]\d{0,14})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8')) : null;
  if (!match || cursorOf(Number(match[1])) !== cursor) throw new VaultError('invalid_cursor', 400, 'The cursor is not one this vault issued');
  return Number(match[1]);
}

const eventOf = (action: string, reader: AuditReader) => ({
  action,
  outcome: 'allowed' as const,
  clientId: reader.clientId,
  scopes: reader.scopes,
  requestId: reader.requestId,
  sourceAddress: reader.sourceAddress,
});

const viewOf = (row: AuditRow): AuditEventView => {
  const { prev_hash: _previous, ...view } = auditRowAsJson(row);
  return view;
};

const accessLogEntryOf = (row: AuditRow): AccessLogEntry => ({
  occurred_at: row.occurredAt.toISOString(),
  client_id: row.clientId,
  purpose: row.purpose,
  action: row.action,
  fields: row.fields,
  outcome: row.outcome,
  reason: row.reason,
  request_id: row.requestId,
});
