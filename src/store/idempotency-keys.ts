import type { Knex } from 'knex';
import { assertBlindIndexCurrent } from './blind-index-keys';

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
 * created and a keyed digest of the request, never the response: a replay is answered from the
 * request sent again (which must match the digest), so no personal value is stored here in clear.
 */
export class IdempotencyKeyStore {
  constructor(private readonly db: Knex) {}

  /**
   * Claims the key inside the caller's transaction. For up to a key refresh after a blind-index
   * rotation, instances store under different active versions, whose digests do not conflict on
   * the primary key. So concurrent claims of one key queue on a transaction lock named by its
   * digest under the oldest version, which every instance knows; under the lock, a version this
   * instance has not loaded yet refuses the claim (BlindIndexKeysBehind: the caller loads it
   * outside the transaction and claims again), and the key is looked for under every one.
   * The first claim's row is found by the rest once it commits.
   */
  async claim(
    clientId: string,
    key: IdempotencyKeyRef,
    record: IdempotencyRecord,
    trx: Knex.Transaction,
  ): Promise<IdempotencyRecord | undefined> {
    await trx.raw('select pg_advisory_xact_lock(?::bigint)', [lockIdOf(key).toString()]);
    // Under the lock: another instance may have stored this key under a version this one has not loaded.
    await assertBlindIndexCurrent(trx, Math.max(...key.candidates.map((candidate) => candidate.version)));
    const earlier = await this.find(clientId, key, trx);
    if (earlier) return earlier;
    await trx('idempotency_keys').insert({
      client_id: clientId,
      key: key.stored.value.toString('base64url'),
      key_version: key.stored.version,
      request_hash: record.requestHash,
      request_hash_version: record.requestHashVersion,
      subject_id: record.subjectId,
    });
    return undefined;
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

  /** Keys recorded before keys were digested, stored as sent: a batch after `after`, in key order. */
  async keysStoredAsSent(after: { clientId: string; key: string } | undefined, limit: number): Promise<Array<{ clientId: string; key: string }>> {
    const query = this.db('idempotency_keys').select('client_id', 'key').whereNull('key_version').orderBy(['client_id', 'key']).limit(limit);
    if (after) query.whereRaw('(client_id, key) > (?, ?)', [after.clientId, after.key]);
    return (await query).map((row: { client_id: string; key: string }) => ({ clientId: row.client_id, key: row.key }));
  }

  /** Replaces a key stored as sent by its digest: 1, or 0 if another instance did so first. */
  async storeDigestOf(clientId: string, sent: string, stored: { version: number; value: Buffer }): Promise<number> {
    return this.db('idempotency_keys')
      .where({ client_id: clientId, key: sent })
      .whereNull('key_version')
      .update({ key: stored.value.toString('base64url'), key_version: stored.version });
  }

  /** The subject's keys an earlier release recorded as sent (not yet turned into digests). */
  async keysOfSubjectStoredAsSent(subjectId: string): Promise<Array<{ clientId: string; key: string }>> {
    const rows = await this.db('idempotency_keys').select('client_id', 'key').where({ subject_id: subjectId }).whereNull('key_version');
    return rows.map((row: { client_id: string; key: string }) => ({ clientId: row.client_id, key: row.key }));
  }

  /**
   * At the subject's erasure, a key stored as sent gives way to its digest (a row of it beside
   * it already, if two releases claimed the key at once), so nothing of it stays readable.
   */
  async replaceStoredAsSent(clientId: string, sent: string, stored: { version: number; value: Buffer }, subjectId: string, trx: Knex.Transaction): Promise<void> {
    await trx('idempotency_keys')
      .insert({ client_id: clientId, key: stored.value.toString('base64url'), key_version: stored.version, request_hash: null, request_hash_version: null, subject_id: subjectId })
      .onConflict(['client_id', 'key'])
      .ignore();
    await trx('idempotency_keys').where({ client_id: clientId, key: sent }).whereNull('key_version').delete();
  }

  /** The subject was erased: its keys stay (a late retry must not create it again), their request hashes go. */
  async forgetRequestsOf(subjectId: string, trx: Knex.Transaction): Promise<void> {
    await trx('idempotency_keys').where({ subject_id: subjectId }).update({ request_hash: null });
  }
}

/** A transaction lock id for one key: 64 bits of its digest under the oldest version. */
function lockIdOf(key: IdempotencyKeyRef): bigint {
  const oldest = key.candidates.reduce((a, b) => (b.version < a.version ? b : a));
  return oldest.value.readBigInt64BE(0);
}
