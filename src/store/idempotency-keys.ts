import type { Knex } from 'knex';

export interface IdempotencyRecord {
  /** Null once the subject was erased: the digest is derived from its personal values. */
  requestHash: Buffer | null;
  /**
   * The blind-index key version the digest was computed under; null for a row recorded before
   * digests were keyed, whose hash is a plain SHA-256 of the request.
   */
  requestHashVersion: number | null;
  subjectId: string;
}

/**
 * An Idempotency-Key as the table holds it: its keyed digest under the active blind-index key,
 * with every digest it may have been stored under, and the key as sent, for rows recorded
 * before keys were digested (`key_version` null).
 */
export interface IdempotencyKeyRef {
  stored: { version: number; value: Buffer };
  candidates: ReadonlyArray<{ version: number; value: Buffer }>;
  sent: string;
}

/**
 * The `idempotency_keys` table. It keeps, per client, a keyed digest of the key, the subject it
 * created and a keyed digest of the request, never the response: a replay is answered by
 * reading the subject again, so no personal value is stored here in clear.
 */
export class IdempotencyKeyStore {
  constructor(private readonly db: Knex) {}

  /**
   * Claims the key inside the caller's transaction. Concurrent claims of one key serialise on
   * the primary key: the loser waits for the winner's commit, then sees its row.
   */
  async claim(clientId: string, key: IdempotencyKeyRef, record: IdempotencyRecord, trx: Knex.Transaction): Promise<IdempotencyRecord | undefined> {
    const inserted = await trx('idempotency_keys')
      .insert({
        client_id: clientId,
        key: key.stored.value.toString('base64url'),
        key_version: key.stored.version,
        request_hash: record.requestHash,
        request_hash_version: record.requestHashVersion,
        subject_id: record.subjectId,
      })
      .onConflict(['client_id', 'key'])
      .ignore()
      .returning('key');
    if (inserted.length > 0) return undefined;
    return this.find(clientId, key, trx);
  }

  async find(clientId: string, key: IdempotencyKeyRef, trx?: Knex.Transaction): Promise<IdempotencyRecord | undefined> {
    const row = await (trx ?? this.db)('idempotency_keys')
      .where({ client_id: clientId })
      .andWhere((either) => {
        for (const { version, value } of key.candidates) either.orWhere({ key: value.toString('base64url'), key_version: version });
        either.orWhere((legacy) => legacy.whereNull('key_version').andWhere({ key: key.sent }));
      })
      .first();
    return row ? { requestHash: row.request_hash, requestHashVersion: row.request_hash_version, subjectId: row.subject_id } : undefined;
  }
  /** The subject was erased: its keys stay (a late retry must not create it again), their request hashes go. */
  async forgetRequestsOf(subjectId: string, trx: Knex.Transaction): Promise<void> {
    await trx('idempotency_keys').where({ subject_id: subjectId }).update({ request_hash: null });
  }
}
