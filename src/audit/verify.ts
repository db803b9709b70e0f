import type { AuditCheckpointStore, StoredCheckpoint } from '../store/audit-checkpoints';
import type { AuditEventStore } from '../store/audit-events';
import type { Database } from '../store/database';
import { chainHash, GENESIS_HASH } from './chain';
import { checkpointSignatureValid } from './checkpoints';

export type ChainProblem =
  /** A sequence number is missing: an event was deleted. */
  | 'sequence_gap'
  /** An event's hash does not follow from the one before and its own content: edited, forged or moved. */
  | 'hash_mismatch'
  /** The chain head the writers keep disagrees with the newest event: events added or removed behind the writers. */
  | 'head_mismatch'
  /** A signed checkpoint names an event that is gone: the newest events were deleted. */
  | 'events_missing_after_checkpoint'
  /** A signed checkpoint's hash is not the chain's hash at that point: the chain was rewritten. */
  | 'checkpoint_mismatch'
  /** A checkpoint whose signature does not verify with a checkpoint key: forged. */
  | 'checkpoint_signature_invalid';

export interface ChainVerification {
  ok: boolean;
  /** Events that verified, from the first. */
  events_verified: number;
  head_seq: number;
  first_broken_seq: number | null;
  problem: ChainProblem | null;
  latest_checkpoint: { seq: number; signed_at: string; kid: string } | null;
  /** Events newer than the latest valid checkpoint: not yet covered by a signature. */
  unsigned_events: number;
  verified_at: string;
}

const PAGE = 5000;
/** Checkpoints compared with the chain on each verification, newest first. */
const CHECKPOINTS_CHECKED = 1000;

/**
 * Walks the whole chain in one consistent snapshot and reports the first sequence number at
 * which it breaks, then holds the result against the writers' chain head and the signed
 * checkpoints (which catch what the chain alone cannot: its newest events deleted).
 */
export class ChainVerifier {
  constructor(
    private readonly db: Database,
    private readonly events: AuditEventStore,
    private readonly checkpoints: AuditCheckpointStore,
  ) {}

  async verify(): Promise<ChainVerification> {
    return this.db.transaction(async (trx) => this.verifyIn(trx), { isolationLevel: 'repeatable read', readOnly: true });
  }

  private async verifyIn(trx: Database): Promise<ChainVerification> {
    const head = await this.events.head(trx);
    // In the same snapshot as the events: a checkpoint signed after it began would name events it cannot see.
    const signed = await this.signedCheckpoints(trx);
    const wanted = new Set(signed.valid.map((checkpoint) => checkpoint.seq));
    const hashesAt = new Map<number, Buffer>();

    let previous: Buffer = GENESIS_HASH;
    let verified = 0;
    let broken: { seq: number; problem: ChainProblem } | undefined;
    walk: for (;;) {
      const page = await this.events.pageAscending(verified, PAGE, trx);
      if (page.length === 0) break;
      for (const row of page) {
        if (row.seq !== verified + 1) {
          broken = { seq: verified + 1, problem: 'sequence_gap' };
          break walk;
        }
        if (!chainHash(previous, row).equals(row.hash)) {
          broken = { seq: row.seq, problem: 'hash_mismatch' };
          break walk;
        }
        if (wanted.has(row.seq)) hashesAt.set(row.seq, row.hash);
        previous = row.hash;
        verified = row.seq;
      }
    }

    if (!broken && (head.seq !== verified || (verified > 0 && !head.hash.equals(previous)))) {
      broken = { seq: Math.min(head.seq, verified) + 1, problem: 'head_mismatch' };
    }
    // Checkpoints oldest first: the first one the chain disagrees with bounds where it broke.
    let latestGood: StoredCheckpoint | undefined;
    for (const checkpoint of [...signed.valid].reverse()) {
      if (broken && checkpoint.seq >= broken.seq) break;
      if (checkpoint.seq > verified) {
        broken = { seq: verified + 1, problem: 'events_missing_after_checkpoint' };
        break;
      }
      if (!hashesAt.get(checkpoint.seq)?.equals(checkpoint.hash)) {
        broken = { seq: (latestGood?.seq ?? 0) + 1, problem: 'checkpoint_mismatch' };
        break;
      }
      latestGood = checkpoint;
    }
    if (!broken && signed.forged) broken = { seq: signed.forged.seq, problem: 'checkpoint_signature_invalid' };

    return {
      ok: !broken,
      events_verified: broken ? Math.min(verified, broken.seq - 1) : verified,
      head_seq: head.seq,
      first_broken_seq: broken?.seq ?? null,
      problem: broken?.problem ?? null,
      latest_checkpoint: latestGood ? { seq: latestGood.seq, signed_at: latestGood.signedAt.toISOString(), kid: latestGood.kid } : null,
      unsigned_events: Math.max(0, verified - (latestGood?.seq ?? 0)),
      verified_at: new Date().toISOString(),
    };
  }

  private async signedCheckpoints(trx: Database): Promise<{ valid: StoredCheckpoint[]; forged?: StoredCheckpoint }> {
    const keys = new Map((await this.checkpoints.keys(trx)).map((key) => [key.kid, key]));
    const valid: StoredCheckpoint[] = [];
    let forged: StoredCheckpoint | undefined;
    for (const checkpoint of await this.checkpoints.newest(CHECKPOINTS_CHECKED, trx)) {
      if (checkpointSignatureValid(checkpoint, keys.get(checkpoint.kid))) valid.push(checkpoint);
      else forged ??= checkpoint;
    }
    return { valid, forged };
  }
}
