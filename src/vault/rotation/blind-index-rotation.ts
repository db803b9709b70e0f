import crypto from 'node:crypto';
import type { Knex } from 'knex';
import { BLIND_INDEX_SECRET_KIND, type BlindIndex } from '../../crypto/blind-index';
import type { KeyHierarchy } from '../../crypto/key-hierarchy';
import type { BlindIndexRotationStore } from '../../store/blind-index-rotation';
import type { KeyRotationStore } from '../../store/key-rotation';
import { PreparedVersionTaken, type RotationJobRow, type RotationJobStore } from '../../store/rotation-jobs';
import type { RotationKindHandler } from './rotation-kind';
import { openCard } from '../payment-methods';

/**
 * `blind_index`: a new index key becomes active (new writes use it); batches recompute every
 * email index and card fingerprint inside the vault; lookups consult the old and the new key
 * until the job retires the old one, so subjects stay findable throughout.
 */
export class BlindIndexRotation implements RotationKindHandler {
  constructor(
    private readonly keys: KeyHierarchy,
    private readonly index: BlindIndex,
    private readonly store: BlindIndexRotationStore,
    private readonly transactions: KeyRotationStore,
    private readonly jobs: RotationJobStore,
    private readonly retireGraceMs: number,
  ) {}

  /**
   * The key is sealed for the version after the newest; sealing may check the KEK reservation on
   * a pooled connection. Recording it re-reads the newest under the version lock: a start that
   * raced another finds its version taken, and prepares again.
   */
  async prepare() {
    const version = (await this.store.newestVersion()) + 1;
    const fresh = crypto.randomBytes(32);
    let sealed;
    try {
      sealed = await this.keys.sealSecret(BLIND_INDEX_SECRET_KIND, String(version), fresh);
    } finally {
      fresh.fill(0);
    }
    return {
      record: async (trx: Knex.Transaction) => {
        if ((await this.store.lockNewestVersion(trx)) !== version - 1) throw new PreparedVersionTaken('blind_index');
        await this.store.addActiveKey(trx, version, sealed);
        return { params: { index_version: version, retire_after: Date.now() + this.retireGraceMs }, total: await this.store.remaining(version, trx) };
      },
      committed: () => this.index.refresh(),
    };
  }

  async step(job: RotationJobRow, batchSize: number): Promise<number> {
    const version = Number(job.params.index_version);
    // Inside the transactions below, holding row locks, nothing may wait for a second pooled
    // connection: the new index key and the KEKs are loaded first, subject keys on the transaction.
    await this.index.holdVersion(version);
    await this.keys.warmKeksForRead();
    const subjects = await this.transactions.transaction(async (trx) => {
      const rows = await this.store.claimSubjects(trx, version, batchSize);
      const indexes = [];
      for (const row of rows) {
        const email = await this.keys.open(row.id, 'email', row.email, trx);
        try {
          indexes.push({ id: row.id, value: (await this.index.emailAt(version, email.toString('utf8'))).value });
        } finally {
          email.fill(0);
        }
      }
      await this.store.setEmailIndexes(trx, indexes, version);
      await this.jobs.addProgress(trx, job.id, indexes.length);
      return indexes.length;
    });
    if (subjects > 0) return subjects;
    return this.transactions.transaction(async (trx) => {
      const rows = await this.store.claimCards(trx, version, batchSize);
      const fingerprints = [];
      for (const row of rows) {
        // The number stays in this process's memory only for the HMAC.
        const { number } = await openCard(this.keys, row, trx);
        fingerprints.push({ token: row.token, value: (await this.index.cardAt(version, number)).value });
      }
      await this.store.setCardFingerprints(trx, fingerprints, version);
      await this.jobs.addProgress(trx, job.id, fingerprints.length);
      return fingerprints.length;
    });
  }

  async complete(job: RotationJobRow, trx: Knex.Transaction): Promise<boolean> {
    const version = Number(job.params.index_version);
    // Until every instance has reloaded its keys, one may still write under the old key: wait, then sweep again.
    if (Date.now() < Number(job.params.retire_after)) return false;
    if ((await this.store.remaining(version, trx)) > 0) return false;
    await this.store.retireBelow(version, trx);
    // A write that computed its index under the old key before its instance reloaded, committed
    // since the count: the job goes on (the retirement commits with this transaction) and its
    // next batch re-indexes that row, which needs no old key; it ends once none is left.
    return (await this.store.remaining(version, trx)) === 0;
  }

  async afterComplete(): Promise<void> {
    await this.index.refresh();
  }
}
