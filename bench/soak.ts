/**
 * Soak: mixed traffic at a fixed rate against one vault process for N minutes — reads, email
 * resolutions, creations, updates, token requests, and one KEK rotation a third of the way in —
 * then error counts, latency percentiles per operation and the vault's memory over time.
 *
 *   npm run soak -- --minutes 10 [--rate 40]
 *
 * Traffic goes only to 127.0.0.1; every loop is bounded by the duration.
 */
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { BenchChild } from './http/child';
import { basicAuth, registerClient } from './http/clients';
import { prepareEnvironment } from './http/environment';
import type { RegisteredClient, VaultReady } from './http/vault-runner';

interface Options {
  minutes: number;
  rate: number;
}

type Operation = 'read' | 'email' | 'create' | 'update' | 'token' | 'rotation';
const WEIGHTS: Array<[Operation, number]> = [
  ['read', 35],
  ['email', 30],
  ['create', 15],
  ['update', 10],
  ['token', 10],
];
const MAX_IN_FLIGHT = 64;

function parseOptions(argv: string[]): Options {
  const value = (flag: string, fallback: number) => {
    const i = argv.indexOf(flag);
    const parsed = i >= 0 ? Number(argv[i + 1]) : fallback;
    if (!Number.isFinite(parsed) || parsed <= 0) throw new Error(`${flag} needs a positive number`);
    return parsed;
  };
  return { minutes: value('--minutes', 10), rate: value('--rate', 40) };
}

class Tally {
  readonly latencies = new Map<Operation, number[]>();
  readonly errors = new Map<string, number>();
  readonly conflicts = new Map<Operation, number>();

  record(op: Operation, ms: number): void {
    const list = this.latencies.get(op) ?? [];
    list.push(ms);
    this.latencies.set(op, list);
  }

  error(op: Operation, what: string): void {
    const key = `${op}: ${what}`;
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
  }

  conflict(op: Operation): void {
    this.conflicts.set(op, (this.conflicts.get(op) ?? 0) + 1);
  }
}

const percentile = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : 0);

function residentMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const env = await prepareEnvironment(process.env.DATABASE_URL);
  const vault = await BenchChild.start<VaultReady>(path.join(__dirname, 'http/vault-runner.ts'), { env: env.vaultEnv, unaudited: false });
  const agent = new https.Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT, ca: env.certPem, servername: 'localhost' });
  const call = (method: string, p: string, headers: Record<string, string>, body?: string) =>
    new Promise<{ status: number; body: unknown; headers: Record<string, unknown> }>((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port: vault.ready.port, method, path: p, headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            // kept as text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, headers: res.headers });
        });
      });
      req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end(body);
    });
  const tokenFor = async (client: RegisteredClient, scope: string, purpose?: string) => {
    const form = new URLSearchParams({ grant_type: 'client_credentials', scope, ...(purpose ? { purpose } : {}) }).toString();
    const res = await call('POST', '/oauth/token', { authorization: basicAuth(client), 'content-type': 'application/x-www-form-urlencoded' }, form);
    if (res.status !== 200) throw new Error(`token request failed: ${res.status}`);
    return (res.body as { access_token: string }).access_token;
  };

  const account = await registerClient(vault, 'soak-account', ['subjects:write', 'subjects:read'], ['account_management']);
  const mailer = await registerClient(vault, 'soak-mailer', ['emails:resolve'], ['transactional_email']);
  const admin = await registerClient(vault, 'soak-admin', ['admin:keys'], []);
  let tokens = { account: '', mailer: '', admin: '' };
  const refreshTokens = async () => {
    tokens = {
      account: await tokenFor(account, 'subjects:write subjects:read', 'account_management'),
      mailer: await tokenFor(mailer, 'emails:resolve', 'transactional_email'),
      admin: await tokenFor(admin, 'admin:keys'),
    };
  };
  await refreshTokens();
  const json = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });

  const ids: string[] = [];
  const newSubject = (n: number) => JSON.stringify({ email: `soak${n}@example.com`, name: `Soak ${n}`, postal_address: { line1: `${n} Soak Road`, city: 'Leeds', country: 'GB' } });
  for (let n = 0; n < 200; n++) {
    const res = await call('POST', '/v1/subjects', json(tokens.account), newSubject(n));
    if (res.status !== 201) throw new Error(`seeding failed: ${res.status}`);
    ids.push((res.body as { id: string }).id);
  }

  const tally = new Tally();
  const pick = () => ids[Math.floor(Math.random() * ids.length)]!;
  let created = 200;
  const operations: Record<Exclude<Operation, 'rotation'>, () => Promise<number>> = {
    read: async () => (await call('GET', `/v1/subjects/${pick()}`, json(tokens.account))).status,
    email: async () => (await call('GET', `/v1/subjects/${pick()}/email`, json(tokens.mailer))).status,
    create: async () => {
      const res = await call('POST', '/v1/subjects', json(tokens.account), newSubject(created++));
      if (res.status === 201) ids.push((res.body as { id: string }).id);
      return res.status;
    },
    update: async () => {
      const id = pick();
      const current = await call('GET', `/v1/subjects/${id}`, json(tokens.account));
      if (current.status !== 200) return current.status;
      const etag = String(current.headers.etag);
      return (await call('PATCH', `/v1/subjects/${id}`, { ...json(tokens.account), 'if-match': etag }, JSON.stringify({ name: `Renamed ${Date.now()}` }))).status;
    },
    token: async () => {
      const form = new URLSearchParams({ grant_type: 'client_credentials', scope: 'emails:resolve', purpose: 'transactional_email' }).toString();
      return (await call('POST', '/oauth/token', { authorization: basicAuth(mailer), 'content-type': 'application/x-www-form-urlencoded' }, form)).status;
    },
  };
  const expected: Record<Exclude<Operation, 'rotation'>, number[]> = { read: [200], email: [200], create: [201], update: [200], token: [200] };
  const totalWeight = WEIGHTS.reduce((s, [, w]) => s + w, 0);
  const choose = (): Exclude<Operation, 'rotation'> => {
    let r = Math.random() * totalWeight;
    for (const [op, w] of WEIGHTS) if ((r -= w) < 0) return op as Exclude<Operation, 'rotation'>;
    return 'read';
  };

  const durationMs = options.minutes * 60_000;
  const started = Date.now();
  const memory: Array<[number, number]> = [[0, residentMiB(vault.ready.pid)]];
  let inFlight = 0;
  let skipped = 0;
  let rotation: { state: string; done?: number; total?: number } | undefined;
  const sampler = setInterval(() => memory.push([(Date.now() - started) / 1000, residentMiB(vault.ready.pid)]), 10_000);
  const tokenRefresher = setInterval(() => void refreshTokens().catch((e) => tally.error('token', String(e))), 4 * 60_000);
  const rotationTimer = setTimeout(async () => {
    const t0 = Date.now();
    const res = await call('POST', '/v1/admin/keys/rotations', json(tokens.admin), JSON.stringify({ kind: 'kek' }));
    if (res.status !== 202) return tally.error('rotation', `start answered ${res.status}`);
    const jobId = (res.body as { job_id: string }).job_id;
    for (let i = 0; i < 600; i++) {
      const job = await call('GET', `/v1/admin/jobs/${jobId}`, json(tokens.admin));
      rotation = job.body as typeof rotation;
      if (rotation && ['succeeded', 'failed', 'completed', 'done'].includes(rotation.state)) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    tally.record('rotation', Date.now() - t0);
  }, durationMs / 3);

  process.stdout.write(`soak: ${options.minutes} min at ${options.rate} req/s against https://127.0.0.1:${vault.ready.port}\n`);
  let sent = 0;
  while (Date.now() - started < durationMs) {
    const due = Math.floor(((Date.now() - started) / 1000) * options.rate);
    while (sent < due) {
      sent += 1;
      if (inFlight >= MAX_IN_FLIGHT) {
        skipped += 1;
        continue;
      }
      const op = choose();
      inFlight += 1;
      const t0 = performance.now();
      void operations[op]()
        .then((status) => {
          tally.record(op, performance.now() - t0);
          if (op === 'update' && status === 412) tally.conflict(op);
          else if (!expected[op].includes(status)) tally.error(op, `status ${status}`);
        })
        .catch((error: Error) => tally.error(op, error.message))
        .finally(() => (inFlight -= 1));
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  clearInterval(sampler);
  clearInterval(tokenRefresher);
  clearTimeout(rotationTimer);
  for (let i = 0; i < 600 && inFlight > 0; i++) await new Promise((r) => setTimeout(r, 100));
  memory.push([(Date.now() - started) / 1000, residentMiB(vault.ready.pid)]);

  report(tally, memory, { options, sent, skipped, rotation });
  agent.destroy();
  await vault.stop();
  await env.close();
  const errors = [...tally.errors.values()].reduce((s, n) => s + n, 0);
  process.exitCode = errors === 0 ? 0 : 1;
}

function report(tally: Tally, memory: Array<[number, number]>, run: { options: Options; sent: number; skipped: number; rotation?: { state: string; done?: number; total?: number } }): void {
  const lines = ['', 'operation   count   p50 ms   p95 ms   p99 ms   max ms   conflicts'];
  const rows: Record<string, unknown>[] = [];
  for (const [op, list] of tally.latencies) {
    const sorted = [...list].sort((a, b) => a - b);
    const row = { op, count: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), max: sorted.at(-1) ?? 0, conflicts: tally.conflicts.get(op) ?? 0 };
    rows.push(row);
    lines.push(`${op.padEnd(10)} ${String(row.count).padStart(6)} ${row.p50.toFixed(1).padStart(8)} ${row.p95.toFixed(1).padStart(8)} ${row.p99.toFixed(1).padStart(8)} ${row.max.toFixed(0).padStart(8)} ${String(row.conflicts).padStart(11)}`);
  }
  const errors = [...tally.errors];
  lines.push('', `errors: ${errors.length === 0 ? 'none' : errors.map(([k, n]) => `${k} ×${n}`).join('; ')}`);
  lines.push(`requests scheduled: ${run.sent}; skipped because ${MAX_IN_FLIGHT} were already in flight: ${run.skipped}`);
  lines.push(`rotation (kek, started at a third of the run): ${run.rotation ? `${run.rotation.state} ${run.rotation.done ?? '?'}/${run.rotation.total ?? '?'}` : 'not started'}`);
  lines.push('', 'vault memory (RSS, MiB) over time:');
  lines.push(memory.map(([t, mib]) => `${Math.round(t)}s ${mib.toFixed(0)}`).join('  '));
  const third = Math.max(1, Math.floor(memory.length / 3));
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const middle = median(memory.slice(third, 2 * third).map(([, m]) => m));
  const last = median(memory.slice(2 * third).map(([, m]) => m));
  lines.push(`median RSS, middle third → last third: ${middle.toFixed(0)} → ${last.toFixed(0)} MiB (${(((last - middle) / (middle || 1)) * 100).toFixed(1)}%)`);
  process.stdout.write(lines.join('\n') + '\n');
  const out = path.join(__dirname, 'results', 'soak.json');
  fs.writeFileSync(out, JSON.stringify({ ...run, operations: rows, errors: Object.fromEntries(tally.errors), memory }, null, 1));
}

main().catch((error) => {
  process.stderr.write(`soak failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
