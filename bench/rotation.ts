import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config/config';
import { createSelfSigned } from '../src/cli/development-certificate';
import { startVault, type RunningVault } from '../src/cli/vault';
import type { RotationJobView } from '../src/vault/rotation/rotation-jobs';
import { startEmbeddedPostgres } from '../src/store/embedded-postgres';
import { freePort } from '../test/support/ports';
import { insertSubjects } from '../test/rotation/support/bulk-subjects';

/**
 * Issue 7's benchmark, on a real vault (embedded PostgreSQL, local keyring, HTTPS):
 * 1. read p99 of GET /v1/subjects/{id} before and during a `kek` rotation of `--subjects`
 *    subjects (default 100,000), and how many requests failed;
 * 2. subject keys re-wrapped per second by that rotation.
 * `--subjects 1000000 --keys-only` seeds only subject keys (no subject rows, no reads), for the
 * "1,000,000 within 3 minutes" figure. Flags: `--subjects N`, `--keys-only`, `--readers N`, `--before-ms N`.
 */
const RESULTS_FILE = path.resolve(__dirname, 'results', 'rotation.json');

interface Flags {
  subjects: number;
  keysOnly: boolean;
  readers: number;
  beforeMs: number;
}

function parseFlags(flags: string[]): Flags {
  const value = (name: string, fallback: number) => {
    const at = flags.indexOf(name);
    return at >= 0 ? Number(flags[at + 1]) : fallback;
  };
  return { subjects: value('--subjects', 100_000), keysOnly: flags.includes('--keys-only'), readers: value('--readers', 8), beforeMs: value('--before-ms', 10_000) };
}

export async function runRotationBenchmark(rawFlags: string[] = []): Promise<void> {
  const flags = parseFlags(rawFlags);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pdvault-bench-rotation-'));
  fs.chmodSync(dir, 0o711);
  const cluster = await startEmbeddedPostgres({ dir: path.join(dir, 'postgres'), port: await freePort(), database: 'pdvault_bench' });
  const { certPem, keyPem } = await createSelfSigned(['localhost'], ['127.0.0.1']);
  fs.writeFileSync(path.join(dir, 'cert.pem'), certPem);
  fs.writeFileSync(path.join(dir, 'key.pem'), keyPem, { mode: 0o600 });
  const config = loadConfig({
    PDVAULT_MODE: 'production',
    PDVAULT_HOST: '127.0.0.1',
    PDVAULT_PORT: '0',
    PDVAULT_DATA_DIR: dir,
    PDVAULT_KEY_PROVIDER: 'local',
    PDVAULT_ALLOW_LOCAL_KEYRING_IN_PRODUCTION: 'true',
    PDVAULT_TLS_CERT_FILE: path.join(dir, 'cert.pem'),
    PDVAULT_TLS_KEY_FILE: path.join(dir, 'key.pem'),
    DATABASE_URL: cluster.url,
    PDVAULT_DB_POOL_MAX: '12',
    PDVAULT_LOG_LEVEL: 'warn',
    PDVAULT_ROTATION_POLL_MS: '200',
    PDVAULT_DB_STATEMENT_TIMEOUT_MS: '120000',
  });
  const vault = await startVault(config, { logDestination: { write: () => true } as never });
  try {
    const seedStart = Date.now();
    const subjects = flags.keysOnly ? await seedKeysOnly(vault, flags.subjects) : await insertSubjects(vault, flags.subjects, 5000);
    process.stdout.write(`seeded ${flags.subjects} subjects in ${((Date.now() - seedStart) / 1000).toFixed(1)} s\n`);
    const reader = flags.keysOnly ? undefined : await readerFor(vault, certPem);
    const ids = subjects.map((s) => s.id);
    const before = reader ? await readFor(reader, ids, flags.readers, () => false, flags.beforeMs) : undefined;

    const started = await vault.rotation.start({ kind: 'kek' }, { clientId: 'pdvault:bench' });
    let job: RotationJobView = started;
    const during = reader
      ? readFor(reader, ids, flags.readers, () => job.state !== 'running', Number.POSITIVE_INFINITY)
      : Promise.resolve(undefined);
    while (job.state === 'running') {
      await new Promise((resolve) => setTimeout(resolve, 200));
      job = await vault.rotation.jobs.get(started.job_id);
    }
    const readsDuring = await during;
    const seconds = (Date.parse(job.finished_at!) - Date.parse(job.started_at)) / 1000;
    const result = {
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model },
      subjects: flags.subjects,
      keys_only: flags.keysOnly,
      job: { state: job.state, done: job.done, total: job.total, seconds, rewrapped_per_second: Math.round(job.done / seconds) },
      reads_before: before,
      reads_during: readsDuring,
    };
    fs.mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
    fs.writeFileSync(flags.keysOnly ? RESULTS_FILE.replace('.json', `-keys-${flags.subjects}.json`) : RESULTS_FILE, JSON.stringify(result, null, 2) + '\n');
    process.stdout.write(`\nrotation benchmark (${os.cpus().length} cores)\n`);
    process.stdout.write(`  kek rotation of ${job.total} subject keys: ${job.state} in ${seconds.toFixed(1)} s, ${result.job.rewrapped_per_second} keys re-wrapped/s\n`);
    if (before && readsDuring) {
      process.stdout.write(`  reads before: ${before.requests} requests, p50 ${before.p50_ms} ms, p99 ${before.p99_ms} ms, failed ${before.failed}\n`);
      process.stdout.write(`  reads during: ${readsDuring.requests} requests, p50 ${readsDuring.p50_ms} ms, p99 ${readsDuring.p99_ms} ms, failed ${readsDuring.failed}\n`);
    }
  } finally {
    await vault.stop();
    await cluster.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Subject keys only, created and wrapped by the vault's key hierarchy in bulk (the 1,000,000 case). */
async function seedKeysOnly(vault: RunningVault, count: number): Promise<Array<{ id: string }>> {
  const chunk = 10_000;
  for (let start = 0; start < count; start += chunk) {
    const ids = Array.from({ length: Math.min(chunk, count - start) }, (_, i) => `sub_bench${String(start + i).padStart(8, '0')}`);
    await vault.keys.createSubjectKeys(ids);
  }
  return [];
}

interface Reader {
  agent: https.Agent;
  port: number;
  token: string;
}

async function readerFor(vault: RunningVault, ca: string): Promise<Reader> {
  const issued = await vault.identity.clients.register(
    { name: 'bench-reader', kind: 'internal', scopes: ['subjects:read'], purposes: ['account_management'] },
    { via: 'cli' },
  );
  const agent = new https.Agent({ keepAlive: true, ca, maxSockets: 64 });
  const body = new URLSearchParams({ grant_type: 'client_credentials', scope: 'subjects:read', purpose: 'account_management' }).toString();
  const basic = Buffer.from(`${issued.client_id}:${issued.client_secret}`).toString('base64');
  const answer = await call(agent, vault.port, 'POST', '/oauth/token', { Authorization: `Basic ${basic}`, 'Content-Type': 'application/x-www-form-urlencoded' }, body);
  const token = (JSON.parse(answer.body) as { access_token: string }).access_token;
  return { agent, port: vault.port, token };
}

/** `concurrency` readers loop over the subjects until `done()` or `maxMs`; latencies of every request. */
async function readFor(reader: Reader, ids: readonly string[], concurrency: number, done: () => boolean, maxMs: number) {
  const latencies: number[] = [];
  let failed = 0;
  const start = Date.now();
  let next = 0;
  const loop = async () => {
    while (!done() && Date.now() - start < maxMs) {
      const id = ids[next++ % ids.length]!;
      const t0 = process.hrtime.bigint();
      try {
        const res = await call(reader.agent, reader.port, 'GET', `/v1/subjects/${id}`, { Authorization: `Bearer ${reader.token}` });
        if (res.status !== 200) {
          failed += 1;
          if (failed === 1) process.stderr.write(`first failed read: ${res.status} ${res.body.slice(0, 300)}\n`);
        }
      } catch {
        failed += 1;
      }
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  latencies.sort((a, b) => a - b);
  const at = (q: number) => Math.round((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0) * 100) / 100;
  return { requests: latencies.length, failed, p50_ms: at(0.5), p99_ms: at(0.99), seconds: (Date.now() - start) / 1000 };
}

function call(agent: https.Agent, port: number, method: string, pathname: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', servername: 'localhost', port, method, path: pathname, headers, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
