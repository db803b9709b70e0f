import type { Knex } from 'knex';

export interface ConsentChange {
  preference: string;
  value: boolean;
  changedBy: string;
  changedAt: Date;
}

/** The `consent_history` table: every preference change with its time and who made it. */
export class ConsentHistoryStore {
  constructor(private readonly db: Knex) {}

  async append(subjectId: string, changes: ReadonlyArray<{ preference: string; value: boolean }>, changedBy: string, trx: Knex.Transaction): Promise<void> {
    if (changes.length === 0) return;
    // The time of the change, under the subject's row lock: now() is when the transaction began,
    // which for writers that queued on the lock is out of order with the history's own order.
    const changedAt = trx.raw('clock_timestamp()');
    await trx('consent_history').insert(changes.map((c) => ({ subject_id: subjectId, preference: c.preference, value: c.value, changed_by: changedBy, changed_at: changedAt })));
  }

  async list(subjectId: string): Promise<ConsentChange[]> {
    const rows = await this.db('consent_history')
      .select('preference', 'value', 'changed_by', 'changed_at')
      .where({ subject_id: subjectId })
      .orderBy('id');
    return rows.map((r) => ({ preference: r.preference, value: r.value, changedBy: r.changed_by, changedAt: r.changed_at }));
  }
}
