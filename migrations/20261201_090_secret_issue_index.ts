import type { Knex } from 'knex';

/**
 * Who was handed a client's secret is read from the audit trail by the client it belongs to
 * (the target), for the two-person rules. A partial index holds only those events, so the walk
 * stays a handful of index reads however long the trail grows.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`create index audit_events_secret_issues on audit_events (target, client_id) where action in ('client.registered', 'client.secret_rotated')`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists audit_events_secret_issues');
}
