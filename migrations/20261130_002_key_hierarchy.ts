import type { Knex } from 'knex';

/**
 * The key hierarchy's two tables. KEK generations are never deleted, only marked destroyed
 * (their wrapped key nulled), so a generation id is never reused and a ciphertext naming it
 * can never be opened by a different key.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('kek_generations', (table) => {
    // Assigned by the vault under an advisory lock (max + 1), because the id goes into the
    // KMS encryption context before the row exists.
    table.integer('id').primary();
    table.text('state').notNullable();
    table.text('provider').notNullable();
    table.text('provider_key_ref').notNullable();
    table.binary('wrapped_key');
    // Wraps reserved under this generation; always >= wraps actually made (reservations are conservative).
    table.bigInteger('wrap_count').notNullable().defaultTo(0);
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('retired_at', { useTz: true });
    table.timestamp('destroyed_at', { useTz: true });
  });
  await knex.raw(`alter table kek_generations add constraint kek_generations_state_check check (state in ('active', 'retired', 'destroyed'))`);
  await knex.raw(`alter table kek_generations add constraint kek_generations_wrapped_check check ((state = 'destroyed') = (wrapped_key is null))`);
  // At most one generation takes new wraps.
  await knex.raw(`create unique index kek_generations_one_active on kek_generations ((true)) where state = 'active'`);

  await knex.schema.createTable('subject_keys', (table) => {
    table.text('subject_id').notNullable();
    table.integer('version').notNullable();
    table.integer('kek_generation_id').notNullable().references('id').inTable('kek_generations');
    table.binary('wrapped_key').notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.primary(['subject_id', 'version']);
  });
  // KEK rotation re-wraps every subject key of a generation.
  await knex.schema.alterTable('subject_keys', (table) => table.index(['kek_generation_id']));
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('subject_keys');
  await knex.schema.dropTable('kek_generations');
}
