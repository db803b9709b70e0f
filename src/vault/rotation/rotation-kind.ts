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
 * A job about to be recorded: whatever may take a pooled connection is made already, and nothing
 * the vault uses has changed yet.
 */
export interface PreparedRotation {
  /**
   * Inside the transaction that records the job, on that transaction alone: the new key is stored
   * and made current with the job, and the work counted. A refused or failed start leaves no key.
   */
  record(trx: Knex.Transaction): Promise<{ params: JobParams; total: number }>;
  /** After that transaction committed: this instance uses the new key at once (the others follow within their reload interval). */
  committed?(): Promise<void> | void;
  /** When it did not commit: whatever was made is zeroed. */
  abandoned?(): void;
}

/**
 * One kind of rotation as a job: `prepare` makes what it can before the job's transaction (making
 * a key may take pooled connections, which nothing holding a transaction may wait for), and its
 * `record` stores the key and counts the work inside it; `step` does one batch and commits it
 * with its progress (0 when nothing is left to claim); `complete` runs once, under the job's row
 * lock, and says whether the job is finished. A crash anywhere leaves committed progress and a
 * running job that any instance resumes.
 */
export interface RotationKindHandler {
  prepare(request: RotationRequest): Promise<PreparedRotation>;
  step?(job: RotationJobRow, batchSize: number): Promise<number>;
  complete(job: RotationJobRow, trx: Knex.Transaction): Promise<boolean>;
  /** After the transaction that finished the job committed, on the instance that finished it. */
  afterComplete?(): Promise<void>;
}
