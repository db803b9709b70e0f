import type { Knex } from 'knex';
import { BLIND_INDEX_SECRET_KIND } from '../../crypto/blind-index';
import type { KeyHierarchy } from '../../crypto/key-hierarchy';
import { RESERVATION_CHECK_MS } from '../../crypto/kek-generations';
import { SIGNING_KEY_KIND } from '../../identity/secret-sealer';
import type { KeyRotationStore, SealedSecretColumn } from '../../store/key-rotation';
import type { RotationJobRow, RotationJobStore } from '../../store/rotation-jobs';
import type { PreparedRotation, RotationKindHandler } from './rotation-kind';

/**
 * Every vault secret sealed directly under a KEK generation that must stay openable, with the
 * kind bound into its AAD, sealed again in place by a KEK rotation. Audit checkpoint keys are
 * not here: their table is append-only, so a rotation gives the signer a new key instead
 * (CheckpointKeys), and only the newest is ever opened.
 */
export const SEALED_SECRETS: ReadonlyArray<SealedSecretColumn & { kind: string }> = [
  { table: 'signing_keys', idColumn: 'kid', sealedColumn: 'sealed_private_key', kind: SIGNING_KEY_KIND },
  { table: 'blind_index_keys', idColumn: 'version', sealedColumn: 'sealed_key', kind: BLIND_INDEX_SECRET_KIND },
];

// Beyond two reservation checks, for a key being stored as the generation changed.
const FOLLOW_MARGIN_MS = 500;

/** The audit checkpoint signer, as KEK rotation moves its key (src/audit/checkpoints.ts). */
export interface CheckpointKeys {
  renewKeySealedBelow(generationId: number): Promise<void>;
  keySealedBelow(generationId: number, trx?: Knex): Promise<boolean>;
}

/**
 * `kek`: a new generation wraps new keys at once; batches re-wrap the subject keys of every
 * older generation; the vault's own secrets are sealed again; the old generations are retired.
 */
export class KekRotation implements RotationKindHandler {
  private resealing?: Promise<void>;

  constructor(
    private readonly keys: KeyHierarchy,
    private readonly store: KeyRotationStore,
    private readonly jobs: RotationJobStore,
    private readonly checkpointKeys: CheckpointKeys,
  ) {}

  /**
   * The new generation is made inside the job's transaction (a provider call, and no other pooled
   * connection), so a refused or failed start leaves none; this instance wraps under it as soon
   * as that commits, the others within a reservation check.
   */
  async prepare(): Promise<PreparedRotation> {
    let generation: { generationId: number; adopt(): void; discard(): void } | undefined;
    return {
      record: async (trx) => {
        // Counted first: making the generation locks the active one's row until the commit, and
        // every instance's next wrap reservation waits on that lock. Every key is below the new one.
        const total = await this.store.countSubjectKeys(trx);
        generation = await this.keys.rotateKekGenerationWithin(trx);
        const target = generation.generationId;
        await this.store.markRetiring(trx, target);
        return { params: { target_kek_generation: target }, total };
      },
      committed: () => generation?.adopt(),
      abandoned: () => generation?.discard(),
    };
  }

  async step(job: RotationJobRow, batchSize: number): Promise<number> {
    const target = Number(job.params.target_kek_generation);
    // Every KEK the claimed rows can name, in memory before their rows are locked: unwrapping
    // one inside the transaction would wait for a second pooled connection.
    await this.keys.warmKeksForRead();
    const rewrapped = await this.store.transaction(async (trx) => {
      const rows = await this.store.claimSubjectKeysBelow(trx, target, batchSize);
      if (rows.length === 0) return 0;
      const rewrapped = await this.keys.rewrapSubjectKeys(rows, target);
      await this.store.replaceWrappedSubjectKeys(trx, rewrapped);
      await this.store.addWraps(trx, target, rewrapped.length);
      await this.jobs.addProgress(trx, job.id, rewrapped.length);
      return rewrapped.length;
    });
    if (rewrapped === 0) {
      // The instance's workers all get here at once: one re-seal, which they all wait for.
      this.resealing ??= this.resealSecrets(target).finally(() => (this.resealing = undefined));
      await this.resealing;
    }
    return rewrapped;
  }

  /**
   * The vault's own secrets, sealed again under the new generation once no subject key is left
   * to re-wrap. Outside any transaction: a wrap may need a pooled connection. Each is written only
   * if unchanged since it was read; `complete` checks, under the job's lock, that none is left.
   */
  private async resealSecrets(target: number): Promise<void> {
    for (const column of SEALED_SECRETS) {
      for (const secret of await this.store.listSecrets(column)) {
        if (this.keys.secretGeneration(secret.sealed) >= target) continue;
        await this.store.replaceSecretIfUnchanged(column, secret.id, secret.sealed, await this.keys.resealSecret(column.kind, secret.id, secret.sealed));
      }
    }
    await this.checkpointKeys.renewKeySealedBelow(target);
  }

  async complete(job: RotationJobRow, trx: Knex.Transaction): Promise<boolean> {
    const target = Number(job.params.target_kek_generation);
    // Until every instance has checked its reservation since the rotation, one may still wrap new
    // keys under the old generation: a job over sooner (a small vault, the command line) would
    // leave those keys behind, under a generation shown as retired.
    if ((await this.jobs.runningForMs(job.id, trx)) < 2 * RESERVATION_CHECK_MS + FOLLOW_MARGIN_MS) return false;
    // Batches other instances hold locked are still counted here: the job waits for them.
    // On the job's own session: what is counted and retired commits with the job's end.
    if ((await this.store.countSubjectKeysBelow(target, trx)) > 0) return false;
    // A secret sealed below the target (one written since the last step re-sealed them): the next step re-seals it.
    for (const column of SEALED_SECRETS) {
      if ((await this.store.listSecrets(column, trx)).some((secret) => this.keys.secretGeneration(secret.sealed) < target)) return false;
    }
    if (await this.checkpointKeys.keySealedBelow(target, trx)) return false;
    await this.store.finishRetiring(target, trx);
    return true;
  }
}
