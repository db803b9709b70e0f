import type { Knex } from 'knex';

/**
 * Every change to a client row and every new revocation is announced on the channel
 * `pdvault_client_standing`, with the client id as payload, whoever makes it: an instance of the
 * vault, the command line, an operator's SQL. Instances cache a token's standing and drop the
 * client's entries when its id arrives. A trigger rather than the code paths, so none can forget.
 */
export async function up(knex: Knex): Promise<void> {
  // The trigger's argument names the column that holds the client id in its table.
  await knex.raw(`
    create function pdvault_notify_client_standing() returns trigger language plpgsql as $$
    begin
      perform pg_notify('pdvault_client_standing',
        (case when tg_op = 'DELETE' then to_jsonb(old) else to_jsonb(new) end) ->> tg_argv[0]);
      return null;
    end $$`);
  await knex.raw(`
    create trigger clients_notify_standing after insert or update or delete on clients
      for each row execute function pdvault_notify_client_standing('id')`);
  await knex.raw(`
    create trigger revoked_tokens_notify_standing after insert or update or delete on revoked_tokens
      for each row execute function pdvault_notify_client_standing('client_id')`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop trigger if exists revoked_tokens_notify_standing on revoked_tokens');
  await knex.raw('drop trigger if exists clients_notify_standing on clients');
  await knex.raw('drop function if exists pdvault_notify_client_standing()');
}
