import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../support/ports';
import { startTestVault, type TestVault } from '../support/test-vault';
import { accountService, auth, SAMPLE, type Caller } from '../vault/support/data-callers';
import { answered, attempt, describeOutcome, pause, pollUntil, type Outcome } from './support/bounded';
import { startPostgres, type PostgresProcess } from './support/postgres';

/**
 * PostgreSQL stopped and started again under traffic. The vault runs against an embedded
 * PostgreSQL of this file's own (not the run's shared one), so stopping it hurts nobody else.
 */
const WORKERS = 3;
/** Every worker stops after this many operations, whatever happens. */
const MAX_OPERATIONS_PER_WORKER = 600;

type Fields = Pick<typeof SAMPLE, 'email' | 'name' | 'phone' | 'postal_address' | 'birth_date'>;

/** What one worker sent for one subject: the fields each version must hold, and the versions acknowledged. */
interface SubjectLedger {
  id: string;
  /** version → the fields the request that would make it sent (acknowledged or not). */
  attempted: Map<number, Fields>;
  acknowledged: Set<number>;
  /** The ETag the worker will send next; undefined when it must read the subject first. */
  etag?: string;
}

let pgDir: string;
let pgPort: number;
let cluster: PostgresProcess;
let vault: TestVault;
let account: Caller;

beforeAll(async () => {
  pgDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pdvault-fault-pg-'));
  pgPort = await freePort();
  cluster = await startPostgres(pgDir, pgPort, 'pdvault_faults');
  vault = await startTestVault({ DATABASE_URL: cluster.url, PDVAULT_DB_STATEMENT_TIMEOUT_MS: '3000' });
  account = await accountService(vault);
});
afterAll(async () => {
  await vault?.stop();
  await cluster?.stop();
  fs.rmSync(pgDir, { recursive: true, force: true });
});

type Phase = 'before' | 'down' | 'after';

interface Recorded {
  phase: Phase;
  request: string;
  outcome: Outcome;
}

describe('PostgreSQL stopped and started under traffic', () => {
  const recorded: Recorded[] = [];
  const ledgers: SubjectLedger[] = [];
  let phase: Phase = 'before';
  let running = true;

  const record = (request: string, outcome: Outcome) => {
    recorded.push({ phase, request, outcome });
    return outcome;
  };
  const ok = (outcome: Outcome) => answered(outcome) && outcome.status >= 200 && outcome.status < 300;

  /**
   * Creates a subject, then updates and reads it, in turn, moving to a new subject every few
   * updates; keeps a ledger of what it sent and what was acknowledged.
   */
  async function worker(w: number): Promise<void> {
    let ledger: SubjectLedger | undefined;
    for (let op = 0; op < MAX_OPERATIONS_PER_WORKER && running; op++) {
      if (!ledger || (op % 3 === 0 && ledger.attempted.size >= 3)) {
        const fields: Fields = { ...SAMPLE, email: `w${w}.op${op}@example.com`, name: `Worker ${w} created at ${op}` };
        const outcome = record('create', await attempt(vault.post('/v1/subjects').set('Authorization', auth(account)).send(fields)));
        if (ok(outcome) && answered(outcome)) {
          ledger = { id: String(outcome.body.id), attempted: new Map([[1, fields]]), acknowledged: new Set([1]), etag: outcome.etag };
          ledgers.push(ledger);
        }
      } else if (!ledger.etag || op % 3 === 2) {
        const outcome = record('read', await attempt(vault.get(`/v1/subjects/${ledger.id}`).set('Authorization', auth(account))));
        if (ok(outcome) && answered(outcome)) ledger.etag = outcome.etag;
      } else {
        const version = Number(JSON.parse(ledger.etag));
        const change = { name: `Worker ${w} patch ${op}`, phone: `+4420718387${String(10 + (op % 90))}` };
        ledger.attempted.set(version + 1, { ...ledger.attempted.get(version)!, ...change });
        const outcome = record('update', await attempt(vault.patch(`/v1/subjects/${ledger.id}`).set('Authorization', auth(account)).set('If-Match', ledger.etag).send(change)));
        if (ok(outcome) && answered(outcome)) {
          ledger.acknowledged.add(version + 1);
          ledger.etag = outcome.etag;
        } else {
          // It may have committed without our hearing: learn the version again before the next update.
          ledger.etag = undefined;
        }
      }
      await pause(10);
    }
  }

  const readiness = async () => {
    const outcome = record('readyz', await attempt(vault.get('/readyz')));
    if (!answered(outcome)) return undefined;
    const database = (outcome.body.checks as Array<{ name: string; ok: boolean }>).find((c) => c.name === 'database');
    return { status: outcome.status, databaseOk: database?.ok };
  };
  const acknowledgedIn = (p: Phase) => recorded.filter((r) => r.phase === p && r.request !== 'readyz' && ok(r.outcome)).length;

  it('answers every request during the outage with a clean problem, keeps every acknowledged write, and recovers by itself', async () => {
    const workers = Array.from({ length: WORKERS }, (_, w) => worker(w));
    try {
      await pollUntil('writes acknowledged before the outage', async () => (acknowledgedIn('before') >= 10 ? true : undefined));

      phase = 'down';
      await cluster.stop();
      const down = await pollUntil('/readyz to report the database down', async () => {
        const r = await readiness();
        return r && r.databaseOk === false ? r : undefined;
      });
      expect(down.status).toBe(503);
      // Let the traffic run into the outage for a while.
      await pollUntil('requests refused during the outage', async () =>
        recorded.filter((r) => r.phase === 'down' && r.request !== 'readyz' && !ok(r.outcome)).length >= 3 * WORKERS ? true : undefined,
      );

      cluster = await startPostgres(pgDir, pgPort, 'pdvault_faults');
      phase = 'after';
      const up = await pollUntil('/readyz to report the database up again', async () => {
        const r = await readiness();
        return r && r.status === 200 ? r : undefined;
      });
      expect(up.databaseOk).toBe(true);
      await pollUntil('writes acknowledged after the outage', async () => (acknowledgedIn('after') >= 10 ? true : undefined));
    } finally {
      running = false;
      await Promise.all(workers);
    }

    // No hang and no broken answer: every request got a response the contract allows, and every failure is a clean 5xx problem.
    const failures = recorded.filter((r) => !ok(r.outcome) && !(r.request === 'readyz' && answered(r.outcome) && r.outcome.status === 503));
    for (const { request, outcome } of failures) {
      expect(`${request}: ${describeOutcome(outcome)}`).toMatch(/^(create|read|update): (503 \w+|412 precondition_failed)$/);
    }
    expect(failures.every((r) => r.phase === 'down' || r.phase === 'after')).toBe(true);
    expect(failures.length).toBeGreaterThan(0);

    // Every acknowledged write is there; the one version an unanswered update may have added holds exactly what it sent.
    for (const ledger of ledgers) {
      const res = await vault.get(`/v1/subjects/${ledger.id}`).set('Authorization', auth(account)).expect(200);
      const version = res.body.version as number;
      expect(version).toBeGreaterThanOrEqual(Math.max(...ledger.acknowledged));
      expect(ledger.attempted.has(version)).toBe(true);
      expect(res.headers.etag).toBe(`"${version}"`);
      expect(res.body).toMatchObject(ledger.attempted.get(version)!);
    }
  });
});
