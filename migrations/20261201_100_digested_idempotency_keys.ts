import type { Knex } from 'knex';

/**
 * An Idempotency-Key was stored as the client sent it, and kept after its subject's erasure: a
 * key that carries a personal value (`signup-jo@example.com`, a card number) stayed readable.
 * New keys are stored as an HMAC under a blind-index key (base64url in `key`) with that key's
 * version. Rows from before keep the key as sent and a null version, and are found as before,
 * until the vault turns them into digests at start (vault/idempotency-key-digests.ts). During a
 * rolling upgrade an instance of the earlier release does not find digested keys: drain those
 * instances before clients retry creations across the upgrade.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('idempotency_keys', (t) => {
    t.integer('key_version').nullable();
  });
  // Each start looks for keys stored as sent; once none is left, this index is empty.
  await knex.raw('create index idempotency_keys_stored_as_sent on idempotency_keys (client_id, key) where key_version is null');
}

export async function down(knex: Knex): Promise<void> {
  // The older code would compare a digest with the key as sent and never match: those keys are forgotten, not misread.
  await knex('idempotency_keys').whereNotNull('key_version').delete();
  await knex.raw('drop index if exists idempotency_keys_stored_as_sent');
  await knex.schema.alterTable('idempotency_keys', (t) => {
    t.dropColumn('key_version');
  });
}
