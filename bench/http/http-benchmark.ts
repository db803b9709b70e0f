import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BaselineReady, BaselineStart } from './baseline-server';
import { BenchChild } from './child';
import { registerClient } from './clients';
import type { HttpContext, SmallSetPair, VaultChild } from './context';
import { loadConfig } from '../../src/config/config';
import { prepareEnvironment, type BenchEnvironment } from './environment';
import { MemorySampler, type HeapFigures } from './memory';
import { parseHttpOptions, type HttpBenchOptions } from './options';
import type { HttpRunResult, ScenarioResult } from './results';
import type { HttpScenario } from './scenario';
import { auditScenario, batchScenario, emailScenario, sizeScenario } from './scenarios-read';
import { createScenario, tokenizeScenario, tokenScenario } from './scenarios-write';
import { SubjectLoader } from './subject-loader';
import { formatScenario } from './table';
import type { VaultReady, VaultStart } from './vault-runner';
import { startNodeFlags } from './start-flags';

/** In run order: the large data set is loaded by `size`, so only `create` comes after it. */
export const HTTP_SCENARIOS: HttpScenario[] = [auditScenario, emailScenario, batchScenario, tokenizeScenario, tokenScenario, sizeScenario, createScenario];

const RESULTS_DIR = path.resolve(__dirname, '..', 'results');
const RESULTS_FILE = path.join(RESULTS_DIR, 'http.json');
const VAULT_RUNNER = path.join(__dirname, 'vault-runner.ts');
const BASELINE_SERVER = path.join(__dirname, 'baseline-server.ts');

/** Runs the named HTTP scenarios (all when `names` is empty) in one environment and writes bench/results/http.json. */
export async function runHttpBenchmark(names: string[], flags: string[]): Promise<void> {
  const options = parseHttpOptions(flags, process.env.DATABASE_URL);
  const scenarios = HTTP_SCENARIOS.filter((s) => names.length === 0 || names.includes(s.name));
  process.stdout.write(
    `http benchmark: ${scenarios.map((s) => s.name).join(', ')}; ${options.connections} connections, ${options.durationSeconds} s per measurement ` +
      `(+${options.warmupSeconds} s warm-up), ${options.smallSubjects.toLocaleString('en-US')} / ${options.subjects.toLocaleString('en-US')} subjects; ` +
      `node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown cpu'}\n` +
      `  the load generator (autocannon) runs in this process and shares the ${os.cpus().length} cores with the vault, the baseline and PostgreSQL\n`,
  );
  const env = await prepareEnvironment(options.databaseServerUrl, { subjectKeyCache: options.subjectKeyCache, databaseCacheMb: options.databaseCacheMb });
  const memory = new MemorySampler();
  const children: Array<BenchChild<unknown>> = [];
  const closers: Array<() => Promise<void>> = [];
  let loader: SubjectLoader | undefined;
  const results: ScenarioResult[] = [];
  try {
    const vault = await startVaultChild(env.vaultEnv, { unaudited: false, profile: options.cpuProfile }, memory, 'vault');
    children.push(vault);
    const baseline = await startBaselineChild(env, env.databaseUrl, memory, 'baseline');
    children.push(baseline);
    const account = await registerAccountService(vault);
    const mailer = await registerMailer(vault);
    loader = new SubjectLoader(env.config, env.databaseUrl);
    const rate = await memory.phase('loading subjects', () => loader!.loadUpTo(options.smallSubjects));
    process.stdout.write(`  loaded ${options.smallSubjects.toLocaleString('en-US')} subjects (${Math.round(rate).toLocaleString('en-US')}/s)\n`);
    let unaudited: VaultChild | undefined;
    let smallSet: SmallSetPair | undefined;
    const ctx: HttpContext = {
      env,
      options,
      baseline,
      vault,
      loader,
      memory,
      account,
      mailer,
      smallIds: () => loader!.ids.slice(0, options.smallSubjects),
      async unauditedVault() {
        if (!unaudited) children.push((unaudited = await startVaultChild(env.vaultEnv, { unaudited: true, profile: false }, memory, 'vault (auditing off)')));
        return unaudited;
      },
      async smallSetPair() {
        if (unaudited) {
          await unaudited.stop();
          memory.unwatch('vault (auditing off)');
          children.splice(children.indexOf(unaudited), 1);
          unaudited = undefined;
        }
        if (!smallSet) {
          const databaseUrl = await env.anotherDatabase();
          const vaultEnv = { ...env.vaultEnv, DATABASE_URL: databaseUrl };
          const vault = await startVaultChild(vaultEnv, { unaudited: false, profile: false }, memory, 'vault (small set only)');
          children.push(vault);
          const baseline = await startBaselineChild(env, databaseUrl, memory, 'baseline (small set only)');
          children.push(baseline);
          const account = await registerAccountService(vault);
          const mailer = await registerMailer(vault);
          const smallLoader = new SubjectLoader(loadConfig(vaultEnv), databaseUrl);
          closers.push(() => smallLoader.close());
          await memory.phase('loading the small set into a second database', () => smallLoader.loadUpTo(options.smallSubjects));
          smallSet = { vault, baseline, account, mailer, ids: smallLoader.ids };
        }
        return smallSet;
      },
    };
    for (const scenario of scenarios) {
      const outcome = await memory.phase(scenario.name, () => scenario.run(ctx));
      const result: ScenarioResult = { name: scenario.name, title: scenario.title, itemsPerRequest: scenario.itemsPerRequest ?? 1, measurements: [], targets: [], notes: [], ...outcome };
      results.push(result);
      process.stdout.write(formatScenario(result));
    }
  } finally {
    for (const child of children.reverse()) await child.stop();
    for (const close of closers) await close();
    await loader?.close();
    await env.close();
  }
  writeResults(options, results, memory);
}

async function startVaultChild(vaultEnv: Record<string, string>, { unaudited, profile }: { unaudited: boolean; profile: boolean }, memory: MemorySampler, name: string): Promise<VaultChild> {
  const profileDir = path.join(RESULTS_DIR, 'profiles');
  const flags = [...startNodeFlags(), ...(profile ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [])];
  const start: VaultStart = { env: vaultEnv, unaudited };
  const child = await BenchChild.start<VaultReady>(VAULT_RUNNER, start, flags);
  memory.watch(name, child.ready.pid);
  memory.watchHeap(name, () => child.call<HeapFigures>('heap', undefined));
  return child;
}

async function startBaselineChild(env: BenchEnvironment, databaseUrl: string, memory: MemorySampler, name: string): Promise<BenchChild<BaselineReady>> {
  const start: BaselineStart = { databaseUrl, certFile: env.certFile, keyFile: env.keyFile, poolMax: env.config.database.poolMax, keepAliveTimeoutMs: env.config.http.keepAliveTimeoutMs };
  // The same V8 settings as the vault: the comparison is of the work each does, not of tuning.
  const baseline = await BenchChild.start<BaselineReady>(BASELINE_SERVER, start, startNodeFlags());
  memory.watch(name, baseline.ready.pid);
  return baseline;
}

const registerAccountService = (vault: VaultChild) =>
  registerClient(vault, 'bench-account-service', ['subjects:read', 'subjects:write', 'payment_methods:write'], ['account_management']);

const registerMailer = (vault: VaultChild) => registerClient(vault, 'bench-mailer', ['emails:resolve'], ['transactional_email']);

function writeResults(options: HttpBenchOptions, scenarios: ScenarioResult[], memory: MemorySampler): void {
  const { memory: series, phases } = memory.stop();
  const result: HttpRunResult = {
    scenario: 'http',
    at: new Date().toISOString(),
    node: process.version,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.cpus().length,
    settings: {
      connections: options.connections,
      durationSeconds: options.durationSeconds,
      warmupSeconds: options.warmupSeconds,
      smallSubjects: options.smallSubjects,
      subjects: options.subjects,
      sizeDurationSeconds: options.sizeDurationSeconds,
      sizeWarmupSeconds: options.sizeWarmupSeconds,
      database: options.databaseServerUrl ? 'DATABASE_URL server' : 'embedded PostgreSQL',
      databaseCache: options.databaseCacheMb > 0 ? `shared_buffers ${options.databaseCacheMb} MB` : 'the server default',
    },
    scenarios,
    memory: series,
    phases,
  };
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  fs.writeFileSync(RESULTS_FILE, JSON.stringify(result) + '\n');
  process.stdout.write(`results written to ${path.relative(process.cwd(), RESULTS_FILE)}\n`);
}
