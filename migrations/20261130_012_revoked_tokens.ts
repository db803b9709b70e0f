import type { Knex } from 'knex';

/** Revoked access tokens (RFC 7009), by `jti`, kept until the token would have expired anyway. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('revoked_tokens', (table) => {
    table.text('jti').primary();
    table.text('client_id').notNullable();
    table.timestamp('expires_at', { useTz: true }).notNullable().index();
    table.timestamp('revoked_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('revoked_tokens');
}
