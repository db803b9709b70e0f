import type { Knex } from 'knex';

/**
 * Service clients (issue 4). A secret is stored only as an argon2id hash beside a public
 * secret id that the presented secret carries, so authentication verifies exactly one hash.
 * The previous secret of a rotation stays valid until `previous_secret_expires_at`.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('clients', (table) => {
    table.text('id').primary();
    table.text('name').notNullable().unique();
    table.text('kind').notNullable();
    table.text('secret_id').notNullable();
    table.text('secret_hash').notNullable();
    table.text('previous_secret_id');
    table.text('previous_secret_hash');
    table.timestamp('previous_secret_expires_at', { useTz: true });
    table.specificType('scopes', 'text[]').notNullable().defaultTo('{}');
    table.specificType('purposes', 'text[]').notNullable().defaultTo('{}');
    table.boolean('enabled').notNullable().defaultTo(true);
    table.timestamp('expires_at', { useTz: true });
    table.timestamp('secret_rotated_at', { useTz: true });
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(`alter table clients add constraint clients_kind_check check (kind in ('internal', 'contractor'))`);
  await knex.raw(`alter table clients add constraint clients_secret_hash_check check (secret_hash like '$argon2id$%')`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('clients');
}
