import type { Knex } from 'knex';

/**
 * Counters of failed client authentications, shared by every instance. The shape is the one
 * rate-limiter-flexible's PostgreSQL store expects (key, points, expire in epoch milliseconds).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('auth_failures', (table) => {
    table.string('key', 255).primary();
    table.integer('points').notNullable().defaultTo(0);
    table.bigInteger('expire');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('auth_failures');
}
