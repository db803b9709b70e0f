import type { Knex } from 'knex';

/**
 * An erasure used to delete the Idempotency-Keys of the subject, so a late retry of the
 * creation made the subject again, personal data and all. The key now stays, without the hash
 * of the request (derived from personal values): a retry is told the subject was erased.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('idempotency_keys', (t) => {
    t.binary('request_hash').nullable().alter();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex('idempotency_keys').whereNull('request_hash').delete();
  await knex.schema.alterTable('idempotency_keys', (t) => {
    t.binary('request_hash').notNullable().alter();
  });
}
