import crypto, { type KeyObject } from 'node:crypto';
import { VaultError } from '../errors/vault-error';
import type { Sealed } from '../crypto/sealed';
import { describeError, type Logger } from '../observability/logger';
import type { AuditCheckpointStore, StoredCheckpoint, StoredCheckpointKey } from '../store/audit-checkpoints';
import type { AuditEventStore } from '../store/audit-events';
import type { Database } from '../store/database';
import { canonicalJson, chainHash } from './chain';

/** The part of the key hierarchy that checkpoint signing needs (src/crypto/key-hierarchy.ts). */
export interface SecretSealer {
  sealSecret(kind: string, id: string, plaintext: Buffer): Promise<Sealed>;
  openSecret(kind: string, id: string, sealed: Sealed): Promise<Buffer>;
  /** The KEK generation a sealed secret is sealed under. */
  secretGeneration(sealed: Sealed): number;
}

export const CHECKPOINT_KEY_KIND = 'audit_checkpoint_key';
const ALGORITHM = 'EdDSA';

/** The bytes a checkpoint signature covers. */
export function checkpointPayload(checkpoint: { seq: number; hash: Buffer; signedAt: Date; kid: string }): Buffer {
  const body = canonicalJson({ seq: checkpoint.seq, hash: checkpoint.hash.toString('hex'), signed_at: checkpoint.signedAt.toISOString(), kid: checkpoint.kid });
  return Buffer.from(`pdvault-audit-checkpoint-v1\n${body}`, 'utf8');
}

export function checkpointSignatureValid(checkpoint: StoredCheckpoint, key: StoredCheckpointKey | undefined): boolean {
  if (!key || key.algorithm !== ALGORITHM) return false;
  try {
    const publicKey = crypto.createPublicKey({ key: key.publicJwk as crypto.JsonWebKey, format: 'jwk' });
    return crypto.verify(null, checkpointPayload(checkpoint), publicKey, checkpoint.signature);
  } catch {
    return false;
  }
}

/**
 * Signs the head of the audit chain periodically (a checkpoint), with an Ed25519 key whose
 * private half is sealed under the key hierarchy. A checkpoint is signed only after the events
 * since the previous one are checked to link up, so a tampered chain is never vouched for.
 * Deleting the newest events is then detected back to the latest checkpoint.
 */
export class CheckpointSigner {
  private key?: { kid: string; privateKey: KeyObject };
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly db: Database,
    private readonly checkpoints: AuditCheckpointStore,
    private readonly events: AuditEventStore,
    private readonly sealer: SecretSealer,
    private readonly settings: { checkpointIntervalSeconds: number },
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.signNow().catch((error) => this.logger.error({ err: describeError(error) }, 'audit checkpoint failed'));
    }, this.settings.checkpointIntervalSeconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Signs the current head unless it is already signed; undefined when there is nothing (new) to sign. */
  async signNow(): Promise<StoredCheckpoint | undefined> {
    const key = await this.signingKey();
    return this.db.transaction(
      async (trx) => {
        const head = await this.events.head(trx);
        // Every statement on the transaction's own session: one on the pool beside it would wait
        // for a second connection (forever, with a pool of one) and would not see its snapshot.
        const [latest] = await this.checkpoints.newest(1, trx);
        if (head.seq === 0 || latest?.seq === head.seq) return undefined;
        if (!(await this.linksUp(trx, latest, head.seq))) {
          this.logger.error({ head_seq: head.seq }, 'audit chain does not link up since the latest checkpoint; not signing it');
          return undefined;
        }
        const unsigned = { seq: head.seq, hash: head.hash, signedAt: new Date(), kid: key.kid };
        const checkpoint = { ...unsigned, signature: crypto.sign(null, checkpointPayload(unsigned), key.privateKey) };
        await this.checkpoints.insert(checkpoint, trx);
        return { id: 0, ...checkpoint };
      },
      { isolationLevel: 'repeatable read' },
    );
  }

  /** Whether the events after `from` (a checkpoint, or the start) up to `to` link up hash by hash. */
  private async linksUp(trx: Database, from: StoredCheckpoint | undefined, to: number): Promise<boolean> {
    let previous: Buffer = Buffer.alloc(32);
    let seq = 0;
    if (from) {
      const anchor = await this.events.findBySeq(from.seq, trx);
      if (!anchor || !anchor.hash.equals(from.hash)) return false;
      previous = anchor.hash;
      seq = from.seq;
    }
    while (seq < to) {
      const page = await this.events.pageAscending(seq, 2000, trx);
      if (page.length === 0) return false;
      for (const row of page) {
        if (row.seq > to) return true;
        if (row.seq !== seq + 1 || !chainHash(previous, row).equals(row.hash)) return false;
        previous = row.hash;
        seq = row.seq;
      }
    }
    return true;
  }

  /**
   * KEK rotation: when the newest key is sealed under a generation older than `generationId`,
   * a new key sealed under the active one takes its place. Rows are never changed (the table
   * is append-only), so the old key stays sealed under the old generation, never opened again:
   * every instance signs with the newest key, and destroying that generation loses nothing.
   */
  async renewKeySealedBelow(generationId: number): Promise<void> {
    if (!(await this.keySealedBelow(generationId))) return;
    this.key = await this.newKey();
  }

  /** Whether there is no newest key, or it is sealed under a generation older than `generationId` (read on `trx` if given). */
  async keySealedBelow(generationId: number, trx?: Database): Promise<boolean> {
    const newest = await this.checkpoints.newestKey(trx);
    return !newest || this.sealer.secretGeneration(newest.sealedPrivateKey) < generationId;
  }

  /** The newest key (another instance may have made a newer one), or a new one when this vault cannot open it. */
  private async signingKey(): Promise<{ kid: string; privateKey: KeyObject }> {
    const newest = await this.checkpoints.newestKey();
    if (this.key && (!newest || newest.kid === this.key.kid)) return this.key;
    if (newest) {
      try {
        const der = await this.sealer.openSecret(CHECKPOINT_KEY_KIND, newest.kid, newest.sealedPrivateKey);
        try {
          this.key = { kid: newest.kid, privateKey: crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }) };
        } finally {
          der.fill(0);
        }
        return this.key;
      } catch (error) {
        // Only a key that can never be opened again (its generation destroyed, or its ciphertext
        // damaged) is replaced; the key provider being unreachable for a moment is not a reason.
        if (!(error instanceof VaultError) || error.code !== 'integrity_error') throw error;
        this.logger.warn({ err: describeError(error), kid: newest.kid }, 'cannot open the audit checkpoint key; creating a new one');
      }
    }
    this.key = await this.newKey();
    return this.key;
  }

  private async newKey(): Promise<{ kid: string; privateKey: KeyObject }> {
    const kid = `ack_${crypto.randomBytes(12).toString('base64url')}`;
    const pair = crypto.generateKeyPairSync('ed25519');
    const der = pair.privateKey.export({ format: 'der', type: 'pkcs8' });
    try {
      const sealedPrivateKey = await this.sealer.sealSecret(CHECKPOINT_KEY_KIND, kid, der);
      const publicJwk = { ...pair.publicKey.export({ format: 'jwk' }), kid, alg: ALGORITHM, use: 'sig' };
      await this.checkpoints.insertKey({ kid, algorithm: ALGORITHM, publicJwk, sealedPrivateKey });
    } finally {
      der.fill(0);
    }
    return { kid, privateKey: pair.privateKey };
  }
}
