import type { Knex } from 'knex';
import { BLIND_INDEX_SECRET_KIND } from '../../crypto/blind-index';
import type { KeyHierarchy } from '../../crypto/key-hierarchy';
import { SIGNING_KEY_KIND } from '../../identity/secret-sealer';
import type { KeyRotationStore, SealedSecretColumn } from '../../store/key-rotation';
import type { RotationJobRow, RotationJobStore } from '../../store/rotation-jobs';
import type { RotationKindHandler } from './rotation-kind';

/**
 * Every vault secret sealed directly under a KEK generation that must stay openable, with the
 * kind bound into its AAD. Audit checkpoint keys are not here: their table is append-only by
 * design, only their public halves matter for verification, and the checkpoint signer makes
 * a new key when it cannot open the newest one (after its generation is destroyed).
 */
export const SEALED_SECRETS: ReadonlyArray<SealedSecretColumn & { kind: string }> = [
  { table: 'signing_keys', idColumn: 'kid', sealedColumn: 'sealed_private_key', kind: SIGNING_KEY_KIND },
  { table: 'blind_index_keys', idColumn: 'version', sealedColumn: 'sealed_key', kind: BLIND_INDEX_SECRET_KIND },
];

/**
 * `kek`: a new generation wraps new keys at once; batches re-wrap the subject keys of every
 * older generation; the vault's own secrets are sealed again; the old generations are retired.
 */
export class KekRotation implements RotationKindHandler {
  constructor(
    private readonly keys: KeyHierarchy,
    private readonly store: KeyRotationStore,
    private readonly jobs: RotationJobStore,
  ) {}

  async prepare(trx: Knex.Transaction) {
    const target = await this.keys.rotateKekGeneration();
    await this.store.markRetiring(trx, target);
    return { params: { target_kek_generation: target }, total: await this.store.countSubjectKeysBelow(target, trx) };
  }

  async step(job: RotationJobRow, batchSize: number): Promise<number> {
    const target = Number(job.params.target_kek_generation);
    return this.store.transaction(async (trx) => {
      const rows = await this.store.claimSubjectKeysBelow(trx, target, batchSize);
      if (rows.length === 0) return 0;
      const rewrapped = await this.keys.rewrapSubjectKeys(rows, target);
      await this.store.replaceWrappedSubjectKeys(trx, rewrapped);
      await this.store.addWraps(trx, target, rewrapped.length);
      await this.jobs.addProgress(trx, job.id, rewrapped.length);
      return rewrapped.length;
    });
  }

  async complete(job: RotationJobRow): Promise<boolean> {
    const target = Number(job.params.target_kek_generation);
    // Batches other instances hold locked are still counted here: the job waits for them.
    if ((await this.store.countSubjectKeysBelow(target)) > 0) return false;
    for (const column of SEALED_SECRETS) {
      for (const secret of await this.store.listSecrets(column)) {
        if (this.keys.secretGeneration(secret.sealed) >= target) continue;
        await this.store.replaceSecret(column, secret.id, await this.keys.resealSecret(column.kind, secret.id, secret.sealed));
      }
    }
    await this.store.finishRetiring(target);
    return true;
  }
}
