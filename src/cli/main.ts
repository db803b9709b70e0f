import { Command } from 'commander';
import { ConfigError } from '../config/config';
import { migrateCommand } from './migrate';
import { startCommand } from './start';

/** Runs an action; a configuration problem is one line on stderr and exit status 1. */
const run = (action: () => Promise<void>) => async () => {
  try {
    await action();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`pdvault: ${error.message}\n`);
    } else {
      process.stderr.write(`pdvault: ${error instanceof Error ? error.message : String(error)}\n`);
    }
    process.exit(1);
  }
};

const program = new Command('pdvault').description('personal-data vault').showHelpAfterError();
program.command('start').description('start the HTTPS service (development: everything embedded)').action(run(startCommand));
program.command('migrate').description('apply pending database migrations and exit').action(run(migrateCommand));

program.parseAsync(process.argv);
