import type { Database } from './database';

/** A break-glass approval as stored. */
export interface StoredApproval {
  id: string;
  subjectId: string;
  clientId: string;
  justification: string;
  expiresAt: Date;
  createdBy: string;
  createdAt: Date;
  approvedBy: string | null;
  approvedAt: Date | null;
  usedAt: Date | null;
  usedRequestId: string | null;
}

export interface NewApproval {
  id: string;
  subjectId: string;
  clientId: string;
  justification: string;
  expiresAt: Date;
  createdBy: string;
}

interface Row {
  id: string;
  subject_id: string;
  client_id: string;
  justification: string;
  expires_at: Date;
  created_by: string;
  created_at: Date;
  approved_by: string | null;
  approved_at: Date | null;
  used_at: Date | null;
  used_request_id: string | null;
}

/** The `approvals` table. Every state change is one conditional UPDATE, so races cannot double-approve or double-use. */
export class ApprovalStore {
  constructor(private readonly db: Database) {}

  async insert(approval: NewApproval): Promise<StoredApproval> {
    const [row] = await this.db<Row>('approvals')
      .insert({
        id: approval.id,
        subject_id: approval.subjectId,
        client_id: approval.clientId,
        justification: approval.justification,
        expires_at: approval.expiresAt,
        created_by: approval.createdBy,
      })
      .returning('*');
    return toApproval(row as Row);
  }

  async find(id: string): Promise<StoredApproval | undefined> {
    const row = await this.db<Row>('approvals').where({ id }).first();
    return row && toApproval(row);
  }

  async list(limit: number): Promise<StoredApproval[]> {
    const rows = await this.db<Row>('approvals').orderBy('created_at', 'desc').orderBy('id').limit(limit);
    return rows.map(toApproval);
  }

  /** Approves a pending, unexpired approval by someone other than its creator; undefined when that no longer holds. */
  async approve(id: string, approvedBy: string): Promise<StoredApproval | undefined> {
    const [row] = await this.db<Row>('approvals')
      .where({ id })
      .whereNull('approved_at')
      .whereNot({ created_by: approvedBy })
      .andWhere('expires_at', '>', this.db.fn.now())
      .update({ approved_by: approvedBy, approved_at: this.db.fn.now() as unknown as Date })
      .returning('*');
    return row && toApproval(row);
  }

  /**
   * Uses one approved, unexpired, unused approval for this client and subject (the one that
   * expires first); returns its id, or undefined when there is none. SKIP LOCKED lets two
   * concurrent requests take two different approvals instead of waiting on the same one.
   */
  async consume(clientId: string, subjectId: string, requestId: string): Promise<string | undefined> {
    const usable = this.db<Row>('approvals')
      .select('id')
      .where({ client_id: clientId, subject_id: subjectId })
      .whereNotNull('approved_at')
      .whereNull('used_at')
      .andWhere('expires_at', '>', this.db.fn.now())
      .orderBy('expires_at')
      .limit(1)
      .forUpdate()
      .skipLocked();
    const [row] = await this.db<Row>('approvals')
      .whereIn('id', usable)
      .whereNull('used_at')
      .update({ used_at: this.db.fn.now() as unknown as Date, used_request_id: requestId })
      .returning('id');
    return row?.id;
  }

  /** Makes an approval `requestId` used up usable again; false when that request did not use it. */
  async release(id: string, requestId: string): Promise<boolean> {
    const released = await this.db<Row>('approvals')
      .where({ id, used_request_id: requestId })
      .update({ used_at: null as unknown as Date, used_request_id: null as unknown as string });
    return released > 0;
  }
}

const toApproval = (row: Row): StoredApproval => ({
  id: row.id,
  subjectId: row.subject_id,
  clientId: row.client_id,
  justification: row.justification,
  expiresAt: row.expires_at,
  createdBy: row.created_by,
  createdAt: row.created_at,
  approvedBy: row.approved_by,
  approvedAt: row.approved_at,
  usedAt: row.used_at,
  usedRequestId: row.used_request_id,
});
