import type { AuditSink } from '../../audit/writer';
import type { KeyHierarchy } from '../../crypto/key-hierarchy';
import { VaultError } from '../../errors/vault-error';
import { notIndependent } from '../../policy/approvals';
import type { CredentialLineage } from '../../store/credential-lineage';
import type { Database } from '../../store/database';
import type { KekDestructionRow, KekDestructionStore } from '../../store/kek-destructions';
import type { KeyRotationStore } from '../../store/key-rotation';
import type { KeyInventoryService } from './key-inventory';
import type { RotationActor } from './rotation-jobs';

export interface KekDestructionView {
  kek_generation_id: number;
  state: 'pending' | 'destroyed';
  requested_by: string;
  requested_at: string;
  approved_by: string | null;
  approved_at: string | null;
}

/**
 * Destroying a retired KEK generation (its KMS-wrapped key deleted: backups of what it wrapped
 * become unreadable). Refused while anything still references it; one admin client asks,
 * a different one approves, and the approval destroys. The same two-admin rule as break-glass
 * approvals, kept apart because those bind a subject and a disclosing client.
 */
export class KekDestruction {
  constructor(
    private readonly db: Database,
    private readonly keys: KeyHierarchy,
    private readonly store: KekDestructionStore,
    private readonly rotation: KeyRotationStore,
    private readonly inventory: KeyInventoryService,
    private readonly audit: AuditSink,
    private readonly lineage: Pick<CredentialLineage, 'oneCanActAsBoth'>,
  ) {}

  async request(generationId: number, actor: RotationActor): Promise<KekDestructionView> {
    const event = this.event('keys.kek.destroy.request', generationId, actor);
    try {
      await this.checkDestroyable(generationId);
    } catch (error) {
      if (error instanceof VaultError) await this.audit.append([{ ...event, outcome: 'denied', reason: error.code }]);
      throw error;
    }
    const row = await this.store.request(generationId, actor.clientId);
    await this.audit.append([{ ...event, outcome: 'allowed' }]);
    return view(row);
  }

  async approve(generationId: number, actor: RotationActor): Promise<KekDestructionView> {
    const event = this.event('keys.kek.destroy.approve', generationId, actor);
    const refuse = async (error: VaultError) => {
      await this.audit.append([{ ...event, outcome: 'denied', reason: error.code }]);
      return error;
    };
    const pending = await this.store.find(generationId);
    if (!pending) throw await refuse(new VaultError('destruction_not_requested', 404, 'No destruction of this KEK generation was requested'));
    if (pending.requestedBy === actor.clientId) {
      throw await refuse(new VaultError('second_approver_required', 403, 'A destruction must be approved by a different admin client than the one that requested it'));
    }
    if (await this.lineage.oneCanActAsBoth(pending.requestedBy, actor.clientId)) throw await refuse(notIndependent());
    if (pending.approvedAt) throw await refuse(alreadyDestroyed());
    try {
      await this.checkDestroyable(generationId);
    } catch (error) {
      if (error instanceof VaultError) throw await refuse(error);
      throw error;
    }
    // Recorded before it takes effect: a crash between the commit and a later write would leave
    // key material destroyed with no trace. A refusal under the lock (another approver, or a wrap
    // under the generation, won the race) follows as not_done; a 5xx's commit may have landed.
    await this.audit.append([{ ...event, outcome: 'allowed' }]);
    try {
      await this.db.transaction(async (trx) => {
        // The generation's row lock keeps a re-wrap or a new wrap from racing the last reference check.
        const generation = await this.rotation.lockGeneration(trx, generationId);
        if (generation?.state === 'destroyed') throw alreadyDestroyed();
        if (generation?.state !== 'retired') throw notRetired();
        await this.checkUnreferenced(generationId, trx);
        if (!(await this.store.approve(trx, generationId, actor.clientId))) throw alreadyDestroyed();
        await this.rotation.destroyGeneration(trx, generationId);
      });
    } catch (error) {
      if (error instanceof VaultError && error.status < 500) await this.audit.append([{ ...event, outcome: 'denied', reason: `not_done:${error.code}` }]);
      throw error;
    }
    this.keys.forgetKekGeneration(generationId);
    return view((await this.store.find(generationId))!);
  }

  private async checkDestroyable(generationId: number): Promise<void> {
    const generation = (await this.inventory.read()).kek_generations.find((g) => g.id === generationId);
    if (!generation) throw new VaultError('kek_generation_not_found', 404, 'No such KEK generation');
    if (generation.status === 'destroyed') throw alreadyDestroyed();
    if (generation.status !== 'retired') throw notRetired();
    await this.checkUnreferenced(generationId);
  }

  private async checkUnreferenced(generationId: number, trx?: Parameters<KeyRotationStore['subjectKeysOfGeneration']>[1]): Promise<void> {
    const subjectKeys = await this.rotation.subjectKeysOfGeneration(generationId, trx);
    const secrets = (await this.inventory.secretsByGeneration(trx)).get(generationId) ?? 0;
    if (subjectKeys + secrets > 0) {
      throw new VaultError('kek_generation_in_use', 409, 'This KEK generation still wraps keys: rotate the KEK first', {
        detail: `${subjectKeys} subject keys and ${secrets} vault secrets still reference it`,
      });
    }
  }

  private event(action: string, generationId: number, actor: RotationActor) {
    return { action, clientId: actor.clientId, scopes: actor.scopes, requestId: actor.requestId, sourceAddress: actor.sourceAddress, target: `kek_generation:${generationId}` };
  }
}

function view(row: KekDestructionRow): KekDestructionView {
  return {
    kek_generation_id: row.kekGenerationId,
    state: row.approvedAt ? 'destroyed' : 'pending',
    requested_by: row.requestedBy,
    requested_at: row.requestedAt.toISOString(),
    approved_by: row.approvedBy,
    approved_at: row.approvedAt ? row.approvedAt.toISOString() : null,
  };
}

const alreadyDestroyed = () => new VaultError('kek_generation_destroyed', 409, 'This KEK generation is already destroyed');
const notRetired = () => new VaultError('kek_generation_not_retired', 409, 'Only a retired KEK generation can be destroyed');
