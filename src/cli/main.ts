import { Command } from 'commander';
import { ConfigError, loadCommandConfig } from '../config/config';
import { VaultError } from '../errors/vault-error';
import { isDatabaseUnavailable } from '../store/database-errors';
import { reasonOf } from './error-reason';
import { createClient, disableClient, listClients, rotateClientSecret, type CreateClientOptions } from './clients';
import { rotateKeys, type RotateOptions } from './keys';
import { migrateCommand } from './migrate';
import { startCommand } from './start';

/** Runs an action; a configuration problem is one line on stderr and exit status 1. */
const run = <A extends unknown[]>(action: (...args: A) => Promise<void>) => async (...args: A) => {
  try {
    await action(...args);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`pdvault: ${error.message}\n`);
    } else if (error instanceof VaultError) {
      const details = (error.errors ?? []).map((e) => `\n  ${optionFor(e.pointer)}: ${e.detail}`).join('');
      process.stderr.write(`pdvault: ${error.message}${error.detail ? ` (${error.detail})` : ''}${details}\n`);
    } else if (isDatabaseUnavailable(error)) {
      // A bare `connect ECONNREFUSED …` does not say which of the vault's dependencies refused.
      process.stderr.write(`pdvault: the database cannot be reached or refused the session: ${reasonOf(error as Error)} (check DATABASE_URL and that the server accepts connections)\n`);
    } else {
      // Something may reject with no reason at all: never print "undefined" as the reason.
      const message = error instanceof Error ? error.message : error === undefined || error === null ? '' : String(error);
      process.stderr.write(`pdvault: ${message || 'failed without a reason; run with PDVAULT_LOG_LEVEL=debug for more'}\n`);
    }
    process.exit(1);
  }
};

// The command line's options for the members of a client registration its errors point at.
const OPTIONS: Record<string, string> = { '/name': '--name', '/kind': '--kind', '/scopes': '--scopes', '/purposes': '--purposes', '/expires_at': '--expires' };
// An item of a list (`/scopes/1`) is the list's option: the message says which item.
const optionFor = (pointer: string) => OPTIONS[pointer] ?? OPTIONS[pointer.replace(/\/\d+$/, '')] ?? pointer;

/** Prints one JSON document on stdout (the only place a client secret is ever shown). */
const printJson = (value: unknown) => {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
};

const program = new Command('pdvault').description('personal-data vault').showHelpAfterError();
program.command('start').description('start the HTTPS service (development: everything embedded)').action(run(startCommand));
program.command('migrate').description('apply pending database migrations and exit').action(run(migrateCommand));

const clients = program.command('clients').description('register and manage the service clients that may call the vault');
clients
  .command('create')
  .description('register a client; prints {"client_id", "client_secret"} once')
  .requiredOption('--name <name>', 'unique name, e.g. billing')
  .requiredOption('--scopes <scopes>', 'space-separated scopes, e.g. "payment_methods:read payment_methods:reveal"')
  .option('--purposes <purposes>', 'space-separated purposes, e.g. "billing payment_processing"')
  .option('--kind <kind>', 'internal or contractor', 'internal')
  .option('--expires <date>', 'end of the contract: a date (through that day, UTC) or an RFC 3339 date-time')
  .action(run(async (options: CreateClientOptions) => printJson(await createClient(loadCommandConfig(), options))));
clients
  .command('list')
  .description('list clients (never their secrets)')
  .action(run(async () => printJson(await listClients(loadCommandConfig()))));
clients
  .command('disable')
  .description('disable a client: its tokens stop working at once')
  .argument('<client_id>')
  .action(run(async (clientId: string) => printJson(await disableClient(loadCommandConfig(), clientId))));
clients
  .command('rotate-secret')
  .description('issue a new secret; the previous one works for the configured overlap')
  .argument('<client_id>')
  .option('--end-previous', 'the previous secret stops working at once (it leaked)')
  .action(run(async (clientId: string, options: { endPrevious?: boolean }) => printJson(await rotateClientSecret(loadCommandConfig(), clientId, options.endPrevious === true))));

const keys = program.command('keys').description('rotate keys online (the same jobs as POST /v1/admin/keys/rotations)');
keys
  .command('rotate')
  .description('start a rotation, take part in it with a progress bar, print the finished job')
  .requiredOption('--kind <kind>', 'kek, kms_key, signing, blind_index or subject')
  .option('--subject-id <id>', 'the subject to re-key (--kind subject)')
  .option('--kms-key-id <id>', 'the new KMS key id, ARN or alias (--kind kms_key)')
  .option('--no-progress', 'no progress bar')
  .action(run(async (options: RotateOptions) => printJson(await rotateKeys(loadCommandConfig(), options))));

program.parseAsync(process.argv);
