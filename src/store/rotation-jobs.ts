import type { Knex } from 'knex';

export type RotationKind = 'kek' | 'kms_key' | 'signing' | 'blind_index' | 'subject';
export type RotationJobState = 'running' | 'succeeded' | 'failed';

export interface RotationJobError {
  at: string;
  code: string;
  message: string;
}

export interface RotationJobRow {
  id: string;
  kind: RotationKind;
  state: RotationJobState;
  params: Record<string, string | number>;
  total: number;
  done: number;
  errors: RotationJobError[];
  startedBy: string;
  startedAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
}

interface DbRow {
  id: string;
  kind: RotationKind;
  state: RotationJobState;
  params: Record<string, string | number>;
  total: string | number;
  done: string | number;
  errors: RotationJobError[];
  started_by: string;
  started_at: Date;
  updated_at: Date;
  finished_at: Date | null;
}

const toRow = (row: DbRow): RotationJobRow => ({
  id: row.id,
  kind: row.kind,
  state: row.state,
  params: row.params,
  total: Number(row.total),
  done: Number(row.done),
  errors: row.errors,
  startedBy: row.started_by,
  startedAt: row.started_at,
  updatedAt: row.updated_at,
  finishedAt: row.finished_at,
});

/** Thrown when a job of that kind is already running (the partial unique index said so). */
export class RotationAlreadyRunning extends Error {
  override name = 'RotationAlreadyRunning';
}

/**
 * Thrown while recording a job whose key was prepared for a version another start has taken
 * since: that start ran, and may have finished. The start prepares again; a start that keeps
 * losing the race is refused as already running.
 */
export class PreparedVersionTaken extends RotationAlreadyRunning {
  override name = 'PreparedVersionTaken';
}

// Errors kept per job: enough to diagnose, never a growing log.
const MAX_ERRORS = 20;

/** The `rotation_jobs` table: one row per rotation, its progress committed with each batch. */
export class RotationJobStore {
  constructor(private readonly db: Knex) {}

  /** Inserts a running job inside `trx`; a running job of the same kind makes it throw RotationAlreadyRunning. */
  async insert(trx: Knex.Transaction, job: { id: string; kind: RotationKind; params: Record<string, string | number>; total: number; startedBy: string }): Promise<RotationJobRow> {
    try {
      // A savepoint, so a refused insert leaves the caller's transaction usable.
      const [row] = await trx.transaction((sp) =>
        sp('rotation_jobs')
          .insert({ id: job.id, kind: job.kind, params: JSON.stringify(job.params), total: job.total, started_by: job.startedBy })
          .returning('*'),
      );
      return toRow(row as DbRow);
    } catch (error) {
      if ((error as { code?: string }).code === '23505') throw new RotationAlreadyRunning(job.kind);
      throw error;
    }
  }

  async find(id: string, db: Knex = this.db): Promise<RotationJobRow | undefined> {
    const row = (await db('rotation_jobs').where({ id }).first()) as DbRow | undefined;
    return row ? toRow(row) : undefined;
  }

  async running(kind?: RotationKind): Promise<RotationJobRow[]> {
    const query = this.db('rotation_jobs').where({ state: 'running' }).orderBy('started_at');
    if (kind) query.andWhere({ kind });
    return ((await query) as DbRow[]).map(toRow);
  }

  async latest(limit: number): Promise<RotationJobRow[]> {
    return ((await this.db('rotation_jobs').orderBy('started_at', 'desc').limit(limit)) as DbRow[]).map(toRow);
  }

  /** Adds a committed batch to the job's progress, inside the batch's own transaction. */
  async addProgress(trx: Knex.Transaction, id: string, count: number): Promise<void> {
    // Rows written while the job runs (under a key the job then replaces) are work it was not
    // counted for at its start: the total grows with them, so done never exceeds it.
    await trx('rotation_jobs')
      .where({ id })
      .update({ done: trx.raw('done + ?', [count]), total: trx.raw('greatest(total, done + ?)', [count]), updated_at: trx.fn.now() });
  }

  /**
   * Stamps a running job's start (and last change) no earlier than now, the moment after its
   * transaction committed; the job as it then stands, or undefined if it has ended.
   */
  async markStartedNow(id: string): Promise<RotationJobRow | undefined> {
    const [row] = await this.db('rotation_jobs')
      .where({ id, state: 'running' })
      .update({ started_at: this.db.raw('greatest(started_at, statement_timestamp())'), updated_at: this.db.raw('greatest(updated_at, started_at, statement_timestamp())') })
      .returning('*');
    return row ? toRow(row as DbRow) : undefined;
  }

  async setTotal(id: string, total: number, db: Knex = this.db): Promise<void> {
    await db('rotation_jobs').where({ id }).update({ total, updated_at: db.fn.now() });
  }

  async recordError(id: string, error: { code: string; message: string }): Promise<void> {
    const entry = JSON.stringify([{ at: new Date().toISOString(), code: error.code, message: error.message }]);
    await this.db('rotation_jobs')
      .where({ id })
      .update({
        errors: this.db.raw(`(case when jsonb_array_length(errors) >= ? then errors else errors || ?::jsonb end)`, [MAX_ERRORS, entry]),
        updated_at: this.db.fn.now(),
      });
  }

  /** Moves a running job to its end state; false when another instance finished it first. */
  async finish(id: string, state: 'succeeded' | 'failed', db: Knex = this.db): Promise<boolean> {
    const updated = await db('rotation_jobs').where({ id, state: 'running' }).update({ state, finished_at: db.fn.now(), updated_at: db.fn.now() });
    return Number(updated) === 1;
  }

  /** How long the job has run, by the database's clock (the one that stamped its start). */
  async runningForMs(id: string, db: Knex = this.db): Promise<number> {
    const { rows } = await db.raw<{ rows: Array<{ ms: number }> }>('select (extract(epoch from now() - started_at) * 1000)::float8 as ms from rotation_jobs where id = ?', [id]);
    return rows[0]?.ms ?? 0;
  }

  /** Locks the job row for the rest of `trx`, so exactly one instance runs its last step. */
  async lockRunning(trx: Knex.Transaction, id: string): Promise<RotationJobRow | undefined> {
    const row = (await trx('rotation_jobs').where({ id, state: 'running' }).forUpdate().skipLocked().first()) as DbRow | undefined;
    return row ? toRow(row) : undefined;
  }
}
