import type { Knex } from 'knex';
import type { Sealed } from '../crypto/sealed';
import { AuditCheckpointStore } from './audit-checkpoints';

export interface GenerationFacts {
  id: number;
  state: string;
  providerKeyRef: string;
  wrapCount: number;
  createdAt: Date;
  retiredAt: Date | null;
  destroyedAt: Date | null;
}

/** Read-only facts about every key level for the inventory: ids, states, counts, times. Never a key. */
export class KeyInventoryStore {
  constructor(private readonly db: Knex) {}

  async generations(): Promise<GenerationFacts[]> {
    const rows = await this.db('kek_generations').select('id', 'state', 'provider_key_ref', 'wrap_count', 'created_at', 'retired_at', 'destroyed_at').orderBy('id');
    return rows.map((r) => ({
      id: r.id,
      state: r.state,
      providerKeyRef: r.provider_key_ref,
      wrapCount: Number(r.wrap_count),
      createdAt: r.created_at,
      retiredAt: r.retired_at,
      destroyedAt: r.destroyed_at,
    }));
  }

  async signingKeys(): Promise<Array<{ kid: string; algorithm: string; state: string; createdAt: Date; retiredAt: Date | null }>> {
    const rows = await this.db('signing_keys').select('kid', 'algorithm', 'state', 'created_at', 'retired_at').orderBy('created_at', 'desc');
    return rows.map((r) => ({ kid: r.kid, algorithm: r.algorithm, state: r.state, createdAt: r.created_at, retiredAt: r.retired_at }));
  }

  /** The sealed private half of the audit checkpoint key signers use now: the newest, as they choose it. */
  async newestCheckpointKeySealed(trx?: Knex): Promise<Sealed | undefined> {
    return (await new AuditCheckpointStore(this.db).newestKey(trx))?.sealedPrivateKey;
  }

  async blindIndexKeys(): Promise<Array<{ version: number; status: string; createdAt: Date }>> {
    const rows = await this.db('blind_index_keys').select('version', 'status', 'created_at').orderBy('version');
    return rows.map((r) => ({ version: r.version, status: r.status, createdAt: r.created_at }));
  }
}
