import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { runCli, type CliRun } from '../support/cli-process';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { productionEnv, testCertificate } from '../support/test-vault';
import { SAMPLE } from '../vault/support/data-callers';
import { answered, attempt, pollUntil, type Outcome } from './support/bounded';

/**
 * The vault as a real process (production mode, its own database and data folder, the local
 * keyring allowed), killed with SIGKILL under concurrent creations and updates, then started
 * again on the same database: what it acknowledged must all be there, exactly.
 */
const WORKERS = 6;
const ACKNOWLEDGED_BEFORE_KILL = 60;
const MAX_OPERATIONS_PER_WORKER = 400;

type Fields = Pick<typeof SAMPLE, 'email' | 'name' | 'phone' | 'postal_address' | 'birth_date'>;

interface SubjectLedger {
  id: string;
  /** version → the fields the request that would make it sent. */
  attempted: Map<number, Fields>;
  /** version → the subject as the vault answered when it acknowledged that version. */
  acknowledged: Map<number, Record<string, unknown>>;
  etag: string;
}

let database: TestDatabase;
let dataDir: string;
let env: Record<string, string>;
let ca: string;
const processes: CliRun[] = [];

beforeAll(async () => {
  const tls = await testCertificate();
  ca = tls.certPem;
  database = await createTestDatabase();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pdvault-fault-kill-'));
  env = {
    ...productionEnv({ dataDir, certFile: tls.certFile, keyFile: tls.keyFile, databaseUrl: database.url }),
    PDVAULT_DB_POOL_MAX: '6',
    PDVAULT_LOG_LEVEL: 'warn',
  };
});
afterAll(async () => {
  for (const run of processes) {
    if (run.child.exitCode === null && run.child.signalCode === null) {
      run.child.kill('SIGKILL');
      await run.exited;
    }
  }
  await database?.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function startProcess(): Promise<{ run: CliRun; url: string }> {
  const run = runCli(['start'], env);
  processes.push(run);
  const [, url] = await run.waitFor(/listening on (https:\/\/\S+)/);
  return { run, url: url! };
}

async function accountToken(url: string, credentials: { client_id: string; client_secret: string }): Promise<string> {
  const res = await request(url)
    .post('/oauth/token')
    .ca(ca)
    .auth(credentials.client_id, credentials.client_secret)
    .type('form')
    .send({ grant_type: 'client_credentials', scope: 'subjects:write subjects:read', purpose: 'account_management' })
    .expect(200);
  return res.body.access_token as string;
}

const personal = (body: Record<string, unknown>) => ({
  email: body.email,
  name: body.name,
  phone: body.phone,
  postal_address: body.postal_address,
  birth_date: body.birth_date,
});

describe('SIGKILL under write load', () => {
  it('keeps every acknowledged creation and update, byte for byte, across a restart on the same database', async () => {
    const client = runCli(['clients', 'create', '--name', 'account-service', '--scopes', 'subjects:write subjects:read', '--purposes', 'account_management'], env);
    expect((await client.exited).code).toBe(0);
    const credentials = JSON.parse(client.stdout()) as { client_id: string; client_secret: string };

    const first = await startProcess();
    const token = await accountToken(first.url, credentials);
    const call = (method: 'get' | 'post' | 'patch', p: string) => request(first.url)[method](p).ca(ca).set('Authorization', `Bearer ${token}`);

    const ledgers: SubjectLedger[] = [];
    let acknowledgedWrites = 0;
    let createsUnanswered = 0;
    let cutOff = 0;
    let killed = false;
    const takeAnswer = (outcome: Outcome, expected: number) => {
      if (answered(outcome) && outcome.status === expected) return outcome;
      // Before the kill, every write must be acknowledged; after it, an answer that still arrived counts as acknowledged.
      if (!killed) throw new Error(`a write failed before the kill: ${JSON.stringify(outcome)}`);
      return undefined;
    };

    async function worker(w: number): Promise<void> {
      let ledger: SubjectLedger | undefined;
      // Each worker writes until a write goes unanswered: the kill cuts off exactly one per worker.
      for (let op = 0; op < MAX_OPERATIONS_PER_WORKER; op++) {
        if (!ledger || ledger.attempted.size >= 3) {
          const fields: Fields = { ...SAMPLE, email: `kill.w${w}.op${op}@example.com`, name: `Killed ${w}/${op}` };
          const outcome = await attempt(call('post', '/v1/subjects').send(fields));
          const created = takeAnswer(outcome, 201);
          if (!created) {
            createsUnanswered += 1;
            cutOff += 1;
            return;
          }
          ledger = { id: String(created.body.id), attempted: new Map([[1, fields]]), acknowledged: new Map([[1, created.body]]), etag: created.etag! };
          ledgers.push(ledger);
        } else {
          const version = Number(JSON.parse(ledger.etag));
          const change = { name: `Killed ${w}/${op} v${version + 1}`, phone: `+4420718387${String(10 + (op % 90))}`, postal_address: { ...SAMPLE.postal_address, line1: `${op} Downing Street` } };
          ledger.attempted.set(version + 1, { ...ledger.attempted.get(version)!, ...change });
          const updated = takeAnswer(await attempt(call('patch', `/v1/subjects/${ledger.id}`).set('If-Match', ledger.etag).send(change)), 200);
          if (!updated) {
            cutOff += 1;
            return;
          }
          ledger.acknowledged.set(version + 1, updated.body);
          ledger.etag = updated.etag!;
        }
        acknowledgedWrites += 1;
      }
    }

    const workers = Array.from({ length: WORKERS }, (_, w) => worker(w));
    await pollUntil('writes acknowledged under load', async () => (acknowledgedWrites >= ACKNOWLEDGED_BEFORE_KILL ? true : undefined), { attempts: 600, intervalMs: 50 });
    killed = true;
    first.run.child.kill('SIGKILL');
    expect(await first.run.exited).toEqual({ code: null, signal: 'SIGKILL' });
    await Promise.all(workers);
    // Each worker lost exactly one write: the one in flight when the process died, or sent to it dead.
    expect(cutOff).toBe(WORKERS);

    const second = await startProcess();
    const readToken = await accountToken(second.url, credentials);
    expect(ledgers.length).toBeGreaterThan(0);
    for (const ledger of ledgers) {
      const res = await request(second.url).get(`/v1/subjects/${ledger.id}`).ca(ca).set('Authorization', `Bearer ${readToken}`).expect(200);
      const version = res.body.version as number;
      const lastAcknowledged = Math.max(...ledger.acknowledged.keys());
      // The update in flight at the kill may have committed; nothing beyond it can have.
      expect(version).toBeGreaterThanOrEqual(lastAcknowledged);
      expect(version).toBeLessThanOrEqual(Math.max(...ledger.attempted.keys()));
      expect(res.headers.etag).toBe(`"${version}"`);
      expect(personal(res.body)).toEqual(ledger.attempted.get(version));
      // A creation answers the whole subject, an update the fields it changed: each must read back as answered.
      const acknowledgedView = ledger.acknowledged.get(version);
      if (acknowledgedView) expect(res.body).toMatchObject(acknowledgedView);
    }

    // Creations whose answer the kill cut off may or may not be there; none beyond them.
    const stored = await countSubjects();
    expect(stored).toBeGreaterThanOrEqual(ledgers.length);
    expect(stored).toBeLessThanOrEqual(ledgers.length + createsUnanswered);

    second.run.child.kill('SIGTERM');
    expect((await second.run.exited).code).toBe(0);
  });
});

async function countSubjects(): Promise<number> {
  const { Client } = await import('pg');
  const client = new Client({ connectionString: database.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>('select count(*) as n from subjects');
    return Number(rows[0]!.n);
  } finally {
    await client.end();
  }
}
