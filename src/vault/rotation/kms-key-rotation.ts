import type { Knex } from 'knex';
import type { KeyHierarchy } from '../../crypto/key-hierarchy';
import { VaultError } from '../../errors/vault-error';
import type { KeyRotationStore } from '../../store/key-rotation';
import type { RotationJobRow, RotationJobStore } from '../../store/rotation-jobs';
import type { RotationKindHandler, RotationRequest } from './rotation-kind';

/**
 * `kms_key`: DescribeKey confirms the new KMS key is enabled and usable; from then on new KEK
 * generations are made under it, and each existing generation's wrapped key is moved to it
 * with ReEncrypt (the plaintext KEK never leaves KMS). Afterwards no live generation names the old key.
 */
export class KmsKeyRotation implements RotationKindHandler {
  constructor(
    private readonly keys: KeyHierarchy,
    private readonly store: KeyRotationStore,
    private readonly jobs: RotationJobStore,
  ) {}

  /**
   * Nothing is made before the job's transaction: the key is described inside it, once the job's
   * row is in (a second start of the kind is refused there first). Without a key id the local
   * keyring makes a new master-key version as it describes one, which a refused start must not
   * leave behind. A provider call takes no pooled connection, so it may run inside. (A start
   * that fails after it, at its last statements or its commit, leaves that version unused.)
   */
  async prepare(request: RotationRequest) {
    let keyRef: string | undefined;
    return {
      record: async (trx: Knex.Transaction) => {
        const described = await this.keys.describeProviderKey(request.kmsKeyId);
        if (!described.usable) {
          throw new VaultError('kms_key_unusable', 409, 'The new KMS key is not enabled and usable for encryption', { detail: described.detail });
        }
        keyRef = described.keyRef;
        await this.store.setCurrentProviderKey(keyRef, trx);
        return { params: { kms_key_ref: keyRef }, total: (await this.store.generationsNotUnder(keyRef, trx)).length };
      },
      // New generations are made under the new key once the job is recorded, as on every other
      // instance: a refused start leaves the provider's key as it was. A generation made in
      // between is under the old key, and the job moves it like the others.
      committed: () => this.keys.useProviderKey(keyRef!),
    };
  }

  /**
   * One generation a step, in a transaction of its own that locks it: its ReEncrypt (a provider
   * call, which takes no pooled connection) and the write of the result, with the progress. No
   * step waits for a second connection while it holds one (an instance with a single connection
   * runs the job too), and concurrent steps, here or on other instances, each take another
   * generation: none is re-wrapped twice.
   */
  async step(job: RotationJobRow): Promise<number> {
    const target = String(job.params.kms_key_ref);
    // An instance that restarted or did not start the job moves to the new key before re-wrapping to it.
    if (this.keys.providerKeyRef() !== target) this.keys.useProviderKey(target);
    return this.store.transaction(async (trx) => {
      const generationId = await this.store.claimGenerationNotUnder(target, trx);
      if (generationId === undefined) return 0;
      if (!(await this.keys.rewrapKekGeneration(generationId, trx))) {
        // Locked and live, yet not moved: the provider re-wrapped it under another key than the job's, and another step would only repeat that.
        throw new VaultError('kms_key_mismatch', 500, 'A KEK generation re-wrapped under the new KMS key is not recorded under it');
      }
      await this.jobs.addProgress(trx, job.id, 1);
      return 1;
    });
  }

  async complete(job: RotationJobRow, trx: Knex.Transaction): Promise<boolean> {
    return (await this.store.generationsNotUnder(String(job.params.kms_key_ref), trx)).length === 0;
  }
}
