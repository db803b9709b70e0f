import type { Knex } from 'knex';
import type { RotationJobRow, RotationKind } from '../../store/rotation-jobs';

export type JobParams = Record<string, string | number>;

/** What a caller asked for: the kind's own parameters, already shape-checked by the route. */
export interface RotationRequest {
  kind: RotationKind;
  subjectId?: string;
  kmsKeyId?: string;
}

/**
 * One kind of rotation as a job: `prepare` makes the new key and counts the work (inside the
 * transaction that records the job), `step` does one batch and commits it with its progress
 * (0 when nothing is left to claim), `complete` runs once, under the job's row lock, and says
 * whether the job is finished. A crash anywhere leaves committed progress and a running job
 * that any instance resumes.
 */
export interface RotationKindHandler {
  prepare(trx: Knex.Transaction, request: RotationRequest, jobId: string): Promise<{ params: JobParams; total: number }>;
  /** After the job's transaction committed (e.g. reload keys the others must now see). */
  afterStart?(params: JobParams): Promise<void>;
  step?(job: RotationJobRow, batchSize: number): Promise<number>;
  complete(job: RotationJobRow, trx: Knex.Transaction): Promise<boolean>;
  /** After the transaction that finished the job committed, on the instance that finished it. */
  afterComplete?(): Promise<void>;
}
