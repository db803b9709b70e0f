/**
 * `npm run bench -- <scenario...>`: runs benchmark scenarios by name (all when none is
 * named). A scenario prints its own table and writes bench/results/<name>.json. Benchmarks
 * are measurements, not tests: nothing here passes or fails on a number.
 */
import { runCryptoBenchmark } from './crypto';

const SCENARIOS: Record<string, () => Promise<void>> = {
  crypto: runCryptoBenchmark,
};

async function main(): Promise<void> {
  const requested = process.argv.slice(2);
  const names = requested.length ? requested : Object.keys(SCENARIOS);
  const unknown = names.filter((name) => !(name in SCENARIOS));
  if (unknown.length) {
    process.stderr.write(`unknown scenario ${unknown.join(', ')}; known: ${Object.keys(SCENARIOS).join(', ')}\n`);
    process.exit(2);
  }
  for (const name of names) await SCENARIOS[name]!();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
