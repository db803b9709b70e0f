/**
 * Runs one embedded PostgreSQL in a process of its own (the package is an ES module Jest's
 * sandbox cannot load), for a fault test to stop and start. Usage:
 *   node -r @swc-node/register postgres-server.ts <dir> <port> <database>
 * Prints `ready <url>` once it accepts connections, and the server's log lines the vault would
 * receive on standard error; stops the server and exits when its
 * standard input closes (so it never outlives the test) or on SIGTERM.
 */
import { startEmbeddedPostgres } from '../../../src/store/embedded-postgres';

async function main(): Promise<void> {
  const [dir, port, database] = process.argv.slice(2);
  if (!dir || !port || !database) throw new Error('usage: postgres-server.ts <dir> <port> <database>');
  // The server's log as the vault would receive it, for a test to read.
  const cluster = await startEmbeddedPostgres({ dir, port: Number(port), database, onLog: (line) => process.stderr.write(`${line}\n`) });
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= cluster.stop().then(() => process.exit(0), () => process.exit(1));
    return stopping;
  };
  process.stdin.on('end', () => void stop());
  process.stdin.resume();
  process.on('SIGTERM', () => void stop());
  process.stdout.write(`ready ${cluster.url}\n`);
}

main().catch((error) => {
  process.stderr.write(`postgres-server: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
