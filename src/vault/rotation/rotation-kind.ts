import type { Knex } from 'knex';
import type { RotationJobRow, RotationKind } from '../../store/rotation-jobs';

export type JobParams = Record<string, string | number>;

/** What a caller asked for: the kind's own parameters, already shape-checked by the route. */
export interface RotationRequest {
  kind: RotationKind;
  subjectId?: string;
  kmsKeyId?: string;
}

/** A new key made for a job not yet recorded. */
export interface PreparedRotation {
  /** Inside the transaction that records the job, on that transaction alone: the job's parameters and its count of work. */
  record(trx: Knex.Transaction): Promise<{ params: JobParams; total: number }>;
}

/**
 * One kind of rotation as a job: `prepare` makes the new key before the job's transaction (making
 * it may call the key provider and take pooled connections, which nothing holding a transaction
 * may wait for) and its `record` counts the work inside it; `step` does one batch and commits it
 * with its progress (0 when nothing is left to claim), `complete` runs once, under the job's row
 * lock, and says whether the job is finished. A crash anywhere leaves committed progress and a
 * running job that any instance resumes.
 */
export interface RotationKindHandler {
  prepare(request: RotationRequest): Promise<PreparedRotation>;
  /** After the job's transaction committed (e.g. reload keys the others must now see). */
  afterStart?(params: JobParams): Promise<void>;
  step?(job: RotationJobRow, batchSize: number): Promise<number>;
  complete(job: RotationJobRow, trx: Knex.Transaction): Promise<boolean>;
  /** After the transaction that finished the job committed, on the instance that finished it. */
  afterComplete?(): Promise<void>;
}
