import type { Knex } from 'knex';

/**
 * Break-glass approvals for `legal_disclosure` (issue 5): created by one admin client,
 * approved by a different one, for one subject and one data client, until an expiry, used once.
 * The justification is free text and stays here; audit events name the approval by id only.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('approvals', (table) => {
    table.text('id').primary();
    table.text('subject_id').notNullable();
    table.text('client_id').notNullable();
    table.text('justification').notNullable();
    table.timestamp('expires_at', { useTz: true }).notNullable();
    table.text('created_by').notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.text('approved_by');
    table.timestamp('approved_at', { useTz: true });
    table.timestamp('used_at', { useTz: true });
    table.text('used_request_id');
  });
  await knex.raw('alter table approvals add constraint approvals_second_approver check (approved_by is null or approved_by <> created_by)');
  await knex.raw('alter table approvals add constraint approvals_used_after_approval check (used_at is null or approved_at is not null)');
  await knex.raw('create index approvals_usable on approvals (client_id, subject_id, expires_at) where approved_at is not null and used_at is null');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('approvals');
}
