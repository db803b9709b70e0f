import type { Knex } from 'knex';
import type { KeyHierarchy } from '../../crypto/key-hierarchy';
import type { Sealed } from '../../crypto/sealed';
import type { KeyInventoryStore } from '../../store/key-inventory';
import type { KeyRotationStore } from '../../store/key-rotation';
import { SEALED_SECRETS } from './kek-rotation';

export interface KeyInventory {
  kms_keys: Array<{ key_ref: string; current: boolean; kek_generations: number }>;
  kek_generations: Array<{
    id: number;
    status: string;
    created_at: string;
    retired_at: string | null;
    destroyed_at: string | null;
    kms_key_ref: string | null;
    wrap_count: number;
    subject_keys: number;
    vault_secrets: number;
  }>;
  signing_keys: Array<{ kid: string; algorithm: string; status: string; created_at: string; tokens_alive_until: string | null; published: boolean }>;
  blind_index_keys: Array<{ version: number; status: string; created_at: string }>;
}

const iso = (date: Date | null) => (date ? date.toISOString() : null);

/** Where every key level stands: ids, states, counts and times, so the security team can prove it. No key material. */
export class KeyInventoryService {
  constructor(
    private readonly keys: KeyHierarchy,
    private readonly inventory: KeyInventoryStore,
    private readonly rotation: KeyRotationStore,
    /** How long after retirement a signing key's tokens may still be alive. */
    private readonly signingLingerMs: number,
  ) {}

  async read(): Promise<KeyInventory> {
    const [generations, counts, signing, index] = await Promise.all([
      this.inventory.generations(),
      this.rotation.subjectKeysByGeneration(),
      this.inventory.signingKeys(),
      this.inventory.blindIndexKeys(),
    ]);
    const secrets = await this.secretsByGeneration();
    const current = this.keys.providerKeyRef();
    const live = generations.filter((g) => g.state !== 'destroyed');
    const refs = [...new Set([...live.map((g) => g.providerKeyRef), ...(current ? [current] : [])])];
    const now = Date.now();
    return {
      kms_keys: refs.map((ref) => ({ key_ref: ref, current: ref === current, kek_generations: live.filter((g) => g.providerKeyRef === ref).length })),
      kek_generations: generations.map((g) => ({
        id: g.id,
        status: g.state,
        created_at: g.createdAt.toISOString(),
        retired_at: iso(g.retiredAt),
        destroyed_at: iso(g.destroyedAt),
        kms_key_ref: g.state === 'destroyed' ? null : g.providerKeyRef,
        wrap_count: g.wrapCount,
        subject_keys: counts.get(g.id) ?? 0,
        vault_secrets: secrets.get(g.id) ?? 0,
      })),
      signing_keys: signing.map((k) => {
        const until = k.retiredAt ? new Date(k.retiredAt.getTime() + this.signingLingerMs) : null;
        return { kid: k.kid, algorithm: k.algorithm, status: k.state, created_at: k.createdAt.toISOString(), tokens_alive_until: iso(until), published: !until || until.getTime() > now };
      }),
      blind_index_keys: index.map((k) => ({ version: k.version, status: k.status, created_at: k.createdAt.toISOString() })),
    };
  }

  /**
   * Vault secrets each generation still seals: signing and index keys, and the audit checkpoint
   * key in use (the newest; older ones are never opened again). Inside a transaction, pass it.
   */
  async secretsByGeneration(trx?: Knex): Promise<Map<number, number>> {
    const counts = new Map<number, number>();
    const count = (sealed: Sealed) => {
      const generation = this.keys.secretGeneration(sealed);
      counts.set(generation, (counts.get(generation) ?? 0) + 1);
    };
    for (const column of SEALED_SECRETS) {
      for (const secret of await this.rotation.listSecrets(column, trx)) count(secret.sealed);
    }
    const checkpointKey = await this.inventory.newestCheckpointKeySealed(trx);
    if (checkpointKey) count(checkpointKey);
    return counts;
  }
}
