import type { Knex } from 'knex';

/**
 * Online key rotation (issue 7). A job's progress is committed with each batch it re-wraps,
 * so a crash loses at most the batch in flight; at most one job of a kind runs at a time,
 * which the database enforces (a partial unique index), not process memory.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('rotation_jobs', (t) => {
    t.text('id').primary();
    t.text('kind').notNullable();
    t.text('state').notNullable().defaultTo('running');
    // Non-secret parameters: the target KEK generation, index version, KMS key id, subject id.
    t.jsonb('params').notNullable().defaultTo('{}');
    t.bigInteger('total').notNullable().defaultTo(0);
    t.bigInteger('done').notNullable().defaultTo(0);
    // Error codes and messages without values: [{ at, code, message }].
    t.jsonb('errors').notNullable().defaultTo('[]');
    t.text('started_by').notNullable();
    t.timestamp('started_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('finished_at', { useTz: true });
  });
  await knex.raw(`alter table rotation_jobs add constraint rotation_jobs_state_check check (state in ('running', 'succeeded', 'failed'))`);
  await knex.raw(`alter table rotation_jobs add constraint rotation_jobs_kind_check check (kind in ('kek', 'kms_key', 'signing', 'blind_index', 'subject'))`);
  // A second job of a kind is refused while one runs, across every instance.
  await knex.raw(`create unique index rotation_jobs_one_running on rotation_jobs (kind) where state = 'running'`);

  // KEK generations gain `retiring`: no new wraps, its subject keys being re-wrapped by a job.
  await knex.raw('alter table kek_generations drop constraint kek_generations_state_check');
  await knex.raw(`alter table kek_generations add constraint kek_generations_state_check check (state in ('active', 'retiring', 'retired', 'destroyed'))`);

  // Destroying a retired KEK generation takes two admin clients: one asks, another approves.
  await knex.schema.createTable('kek_destructions', (t) => {
    // No foreign key: tools and tests truncate the key tables together, and a generation row is never deleted anyway.
    t.integer('kek_generation_id').primary();
    t.text('requested_by').notNullable();
    t.timestamp('requested_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('approved_by');
    t.timestamp('approved_at', { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('kek_destructions');
  await knex.raw('alter table kek_generations drop constraint kek_generations_state_check');
  await knex.raw(`alter table kek_generations add constraint kek_generations_state_check check (state in ('active', 'retired', 'destroyed'))`);
  await knex.schema.dropTable('rotation_jobs');
}
