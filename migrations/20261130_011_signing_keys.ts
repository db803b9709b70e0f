import type { Knex } from 'knex';

/**
 * JWT signing keys (issue 4). The private half is stored only sealed under the key hierarchy;
 * at most one key is active. A retired key stays published until its last token has expired.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('signing_keys', (table) => {
    table.text('kid').primary();
    table.text('algorithm').notNullable();
    table.jsonb('public_jwk').notNullable();
    table.binary('sealed_private_key').notNullable();
    table.text('state').notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('retired_at', { useTz: true });
  });
  await knex.raw(`alter table signing_keys add constraint signing_keys_state_check check (state in ('active', 'retired'))`);
  await knex.raw(`create unique index signing_keys_one_active on signing_keys (state) where state = 'active'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('signing_keys');
}
