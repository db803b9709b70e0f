import type { Knex } from 'knex';

/**
 * Every subject key deleted — by an erasure (crypto-shredding) or a re-key retiring the old
 * version — is announced on the channel `pdvault_subject_keys` with the subject id as payload,
 * on commit. Every instance keeps unwrapped subject keys in memory and drops the subject's
 * entry when its id arrives, so a destroyed key leaves the memory of every instance, not only
 * of the one that destroyed it. Inserts and re-wraps are not announced: neither makes a cached
 * key wrong.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create function pdvault_notify_subject_key_deleted() returns trigger language plpgsql as $$
    begin
      perform pg_notify('pdvault_subject_keys', old.subject_id);
      return null;
    end $$`);
  await knex.raw(`
    create trigger subject_keys_notify_deleted after delete on subject_keys
      for each row execute function pdvault_notify_subject_key_deleted()`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop trigger if exists subject_keys_notify_deleted on subject_keys');
  await knex.raw('drop function if exists pdvault_notify_subject_key_deleted()');
}
