import type { Knex } from 'knex';

/** Facts about this vault installation itself (first start time, installation id). */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('vault_meta', (table) => {
    table.text('key').primary();
    table.text('value').notNullable();
    table.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex('vault_meta').insert({ key: 'installation_id', value: knex.raw('gen_random_uuid()::text') });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('vault_meta');
}
