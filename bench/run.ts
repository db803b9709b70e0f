/**
 * `npm run bench -- [scenario...] [--flag value...]`: runs benchmark scenarios by name (all
 * when none is named). A scenario prints its own table and writes bench/results/<name>.json;
 * afterwards every results file is merged into bench/results/latest.json and rendered as the
 * offline HTML report bench/results/report.html. Benchmarks are measurements, not tests:
 * nothing here passes or fails on a number.
 *
 * HTTP scenarios share one environment (PostgreSQL, the vault, the baseline): `http` runs them
 * all, `http:email http:batch` a subset; see bench/README.md for the flags.
 */
import { runCryptoBenchmark } from './crypto';
import { runRotationBenchmark } from './rotation';
import { HTTP_SCENARIOS, runHttpBenchmark } from './http/http-benchmark';
import { HTTP_FLAGS_HELP } from './http/options';
import { writeLatestAndReport } from './report';

type Scenario = (flags: string[]) => Promise<void>;

/** Run by `npm run bench` in this order; add a scenario (e.g. `rotation`) with one line here. */
const SCENARIOS: Record<string, Scenario> = {
  crypto: runCryptoBenchmark,
  http: (flags) => runHttpBenchmark([], flags),
  rotation: runRotationBenchmark,
};
const HTTP_PARTS = HTTP_SCENARIOS.map((s) => `http:${s.name}`);

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const firstFlag = args.findIndex((arg) => arg.startsWith('--'));
  const requested = firstFlag < 0 ? args : args.slice(0, firstFlag);
  const flags = firstFlag < 0 ? [] : args.slice(firstFlag);
  const names = requested.length ? requested : Object.keys(SCENARIOS);
  const unknown = names.filter((name) => !(name in SCENARIOS) && !HTTP_PARTS.includes(name));
  if (unknown.length) {
    process.stderr.write(`unknown scenario ${unknown.join(', ')}; known: ${[...Object.keys(SCENARIOS), ...HTTP_PARTS].join(', ')}\nflags of the http scenarios: ${HTTP_FLAGS_HELP}\n`);
    process.exit(2);
  }
  // The named parts of the HTTP benchmark run together, in one environment, where the first of them stands.
  const parts = names.filter((name) => HTTP_PARTS.includes(name)).map((name) => name.slice('http:'.length));
  const plan = names.filter((name) => !HTTP_PARTS.includes(name) || name === names.find((n) => HTTP_PARTS.includes(n)));
  // One broken scenario does not cost the others their figures; the run still exits non-zero.
  const failed: string[] = [];
  for (const name of plan) {
    try {
      if (HTTP_PARTS.includes(name)) await runHttpBenchmark(parts, flags);
      else await SCENARIOS[name]!(flags);
    } catch (error) {
      failed.push(name);
      process.stderr.write(`scenario ${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    }
  }
  writeLatestAndReport();
  if (failed.length) throw new Error(`failed: ${failed.join(', ')} (their results files, if any, are from an earlier run)`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
