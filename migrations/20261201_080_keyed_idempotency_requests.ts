import type { Knex } from 'knex';

/**
 * An Idempotency-Key's request was recognised by a plain SHA-256 of it: derived from personal
 * values, so whoever could read the table could test a guess (this email, this name) against
 * it. New keys store an HMAC under a blind-index key instead, and the version of that key.
 * Rows from before keep their hash and a null version, and are compared as they were made.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('idempotency_keys', (t) => {
    t.integer('request_hash_version').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  // Keyed digests cannot be compared by the older code: those keys are forgotten, not misread.
  await knex('idempotency_keys').whereNotNull('request_hash_version').delete();
  await knex.schema.alterTable('idempotency_keys', (t) => {
    t.dropColumn('request_hash_version');
  });
}
