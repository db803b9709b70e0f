import type { Knex } from 'knex';

const IMMUTABLE = ['audit_events', 'audit_checkpoints', 'audit_checkpoint_keys'];

/**
 * The audit trail (issue 5). `audit_events` is a hash chain: each row stores
 * SHA-256(prev_hash ‖ canonical event), sequence numbers are gap-free, and the writer takes the
 * chain head from `audit_chain_head` under a row lock, so instances append one linear chain.
 * The trail is append-only twice over: UPDATE, DELETE and TRUNCATE are revoked from the role
 * that runs this migration (and from PUBLIC), and triggers refuse them for every role the
 * triggers apply to. A role that owns the tables could grant itself the rights back or disable
 * the triggers; in production, run migrations as an owner role and the vault as another role
 * granted only SELECT and INSERT here. Signed checkpoints catch what a superuser does anyway.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('audit_events', (table) => {
    table.bigInteger('seq').primary();
    table.timestamp('occurred_at', { useTz: true }).notNullable();
    table.text('action').notNullable();
    table.text('outcome').notNullable();
    table.text('reason');
    table.text('client_id');
    table.text('purpose');
    table.specificType('scopes', 'text[]').notNullable();
    table.text('subject_id');
    table.jsonb('fields').notNullable();
    table.integer('policy_version');
    table.text('request_id');
    table.text('source_address');
    table.text('target');
    table.binary('prev_hash').notNullable();
    table.binary('hash').notNullable();
  });
  await knex.raw(`alter table audit_events add constraint audit_events_outcome_check check (outcome in ('allowed', 'denied'))`);
  await knex.raw('alter table audit_events add constraint audit_events_seq_check check (seq >= 1)');
  await knex.raw('create index audit_events_subject on audit_events (subject_id, seq) where subject_id is not null');
  await knex.raw('create index audit_events_client on audit_events (client_id, seq) where client_id is not null');
  await knex.raw('create index audit_events_time on audit_events (occurred_at)');

  // One row: the sequence number and hash of the newest event. Writers lock it (FOR UPDATE).
  await knex.schema.createTable('audit_chain_head', (table) => {
    table.boolean('id').primary().defaultTo(true);
    table.bigInteger('seq').notNullable();
    table.binary('hash').notNullable();
  });
  await knex.raw('alter table audit_chain_head add constraint audit_chain_head_one_row check (id)');
  await knex('audit_chain_head').insert({ id: true, seq: 0, hash: Buffer.alloc(32) });

  await knex.schema.createTable('audit_checkpoint_keys', (table) => {
    table.text('kid').primary();
    table.text('algorithm').notNullable();
    table.jsonb('public_jwk').notNullable();
    // Sealed under the key hierarchy; only the vault can sign with it.
    table.binary('sealed_private_key').notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.schema.createTable('audit_checkpoints', (table) => {
    table.bigIncrements('id');
    table.bigInteger('seq').notNullable();
    table.binary('hash').notNullable();
    table.timestamp('signed_at', { useTz: true }).notNullable();
    table.text('kid').notNullable().references('kid').inTable('audit_checkpoint_keys');
    table.binary('signature').notNullable();
    table.index(['seq']);
  });

  await knex.raw(`
    create function audit_refuse_change() returns trigger language plpgsql as $$
    begin
      raise exception 'the audit trail is append-only: % on % refused', tg_op, tg_table_name
        using errcode = 'insufficient_privilege';
    end
    $$`);
  for (const table of IMMUTABLE) {
    await knex.raw(`create trigger ${table}_no_change before update or delete on ${table} for each row execute function audit_refuse_change()`);
    await knex.raw(`create trigger ${table}_no_truncate before truncate on ${table} for each statement execute function audit_refuse_change()`);
    await knex.raw(`revoke update, delete, truncate on ${table} from public`);
    await knex.raw(`revoke update, delete, truncate on ${table} from current_user`);
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('audit_checkpoints');
  await knex.schema.dropTable('audit_checkpoint_keys');
  await knex.schema.dropTable('audit_chain_head');
  await knex.schema.dropTable('audit_events');
  await knex.raw('drop function audit_refuse_change()');
}
