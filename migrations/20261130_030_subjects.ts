import type { Knex } from 'knex';

/**
 * Subjects and what hangs off them. Every personal value is a sealed ciphertext (bytea);
 * what stays in clear is what the vault must search or decide on without opening anything:
 * ids, the keyed blind indexes, preferences (booleans), a card's brand, last four and expiry.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('subjects', (t) => {
    t.text('id').primary();
    t.text('external_id').unique();
    t.binary('email');
    t.binary('name');
    t.binary('phone');
    t.binary('postal_address');
    t.binary('birth_date');
    t.binary('email_index');
    t.integer('email_index_version');
    t.jsonb('preferences').notNullable();
    t.integer('version').notNullable().defaultTo(1);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['email_index'], 'subjects_email_index');
  });

  await knex.schema.createTable('consent_history', (t) => {
    t.bigIncrements('id');
    t.text('subject_id').notNullable().references('subjects.id').onDelete('CASCADE');
    t.text('preference').notNullable();
    t.boolean('value').notNullable();
    t.text('changed_by').notNullable();
    t.timestamp('changed_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['subject_id', 'id']);
  });

  await knex.schema.createTable('payment_methods', (t) => {
    t.text('token').primary();
    t.text('subject_id').notNullable().references('subjects.id').onDelete('CASCADE');
    t.binary('card').notNullable();
    t.text('brand').notNullable();
    t.text('last4').notNullable();
    t.smallint('exp_month').notNullable();
    t.smallint('exp_year').notNullable();
    t.binary('fingerprint').notNullable();
    t.integer('fingerprint_version').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['subject_id', 'fingerprint']);
  });

  await knex.schema.createTable('idempotency_keys', (t) => {
    t.text('client_id').notNullable();
    t.text('key').notNullable();
    t.binary('request_hash').notNullable();
    t.text('subject_id').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['client_id', 'key']);
  });

  await knex.schema.createTable('blind_index_keys', (t) => {
    t.integer('version').primary();
    t.binary('sealed_key').notNullable();
    t.text('status').notNullable().defaultTo('active');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw("create unique index blind_index_keys_one_active on blind_index_keys ((true)) where status = 'active'");
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['blind_index_keys', 'idempotency_keys', 'payment_methods', 'consent_history', 'subjects']) {
    await knex.schema.dropTableIfExists(table);
  }
}
