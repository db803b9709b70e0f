import type { Knex } from 'knex';
import type { SigningKeyRing } from '../../identity/signing-keys';
import type { RotationJobRow, RotationJobStore } from '../../store/rotation-jobs';
import type { PreparedRotation, RotationKindHandler } from './rotation-kind';

/**
 * `signing`: a new key signs from now on. The old one is retired and stays in the JWKS (and
 * keeps verifying) until every token it signed has expired; the ring stops publishing it then.
 */
export class SigningRotation implements RotationKindHandler {
  constructor(
    private readonly ring: SigningKeyRing,
    private readonly jobs: RotationJobStore,
  ) {}

  /** The key is made and sealed first; it becomes active with the job, so a refused start changes nothing. */
  async prepare(): Promise<PreparedRotation> {
    const key = await this.ring.newKey();
    return {
      record: async (trx) => {
        await this.ring.activateWithin(key, trx);
        return { params: { kid: key.kid }, total: 1 };
      },
      committed: () => this.ring.activated(),
    };
  }

  async complete(job: RotationJobRow, trx: Knex.Transaction): Promise<boolean> {
    if (job.done < job.total) await this.jobs.addProgress(trx, job.id, job.total - job.done);
    return true;
  }
}
