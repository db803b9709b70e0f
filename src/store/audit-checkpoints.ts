import type { Sealed } from '../crypto/sealed';
import type { Database } from './database';

/** A key that signs audit checkpoints: public half in clear, private half sealed. */
export interface StoredCheckpointKey {
  kid: string;
  algorithm: string;
  publicJwk: Record<string, unknown>;
  sealedPrivateKey: Sealed;
  createdAt: Date;
}

/** A signed statement "the chain had this hash at this sequence number". */
export interface StoredCheckpoint {
  id: number;
  seq: number;
  hash: Buffer;
  signedAt: Date;
  kid: string;
  signature: Buffer;
}

interface KeyRow {
  kid: string;
  algorithm: string;
  public_jwk: Record<string, unknown>;
  sealed_private_key: Buffer;
  created_at: Date;
}

interface CheckpointRow {
  id: string | number;
  seq: string | number;
  hash: Buffer;
  signed_at: Date;
  kid: string;
  signature: Buffer;
}

/** The `audit_checkpoint_keys` and `audit_checkpoints` tables; both append-only. */
export class AuditCheckpointStore {
  constructor(private readonly db: Database) {}

  async newestKey(trx?: Database): Promise<StoredCheckpointKey | undefined> {
    const row = await (trx ?? this.db)<KeyRow>('audit_checkpoint_keys').orderBy('created_at', 'desc').orderBy('kid').first();
    return row && toKey(row);
  }

  async keys(trx?: Database): Promise<StoredCheckpointKey[]> {
    return (await (trx ?? this.db)<KeyRow>('audit_checkpoint_keys').orderBy('created_at')).map(toKey);
  }

  async insertKey(key: Omit<StoredCheckpointKey, 'createdAt'>): Promise<void> {
    await this.db('audit_checkpoint_keys').insert({
      kid: key.kid,
      algorithm: key.algorithm,
      public_jwk: JSON.stringify(key.publicJwk),
      sealed_private_key: key.sealedPrivateKey,
    });
  }

  async insert(checkpoint: Omit<StoredCheckpoint, 'id'>, trx?: Database): Promise<void> {
    await (trx ?? this.db)('audit_checkpoints').insert({
      seq: checkpoint.seq,
      hash: checkpoint.hash,
      signed_at: checkpoint.signedAt,
      kid: checkpoint.kid,
      signature: checkpoint.signature,
    });
  }

  /** Newest (highest sequence number) first. */
  async newest(limit: number, trx?: Database): Promise<StoredCheckpoint[]> {
    const rows = await (trx ?? this.db)<CheckpointRow>('audit_checkpoints').orderBy('seq', 'desc').orderBy('id', 'desc').limit(limit);
    return rows.map(toCheckpoint);
  }
}

const toKey = (row: KeyRow): StoredCheckpointKey => ({
  kid: row.kid,
  algorithm: row.algorithm,
  publicJwk: row.public_jwk,
  sealedPrivateKey: row.sealed_private_key as Sealed,
  createdAt: row.created_at,
});

const toCheckpoint = (row: CheckpointRow): StoredCheckpoint => ({
  id: Number(row.id),
  seq: Number(row.seq),
  hash: row.hash,
  signedAt: row.signed_at,
  kid: row.kid,
  signature: row.signature,
});
