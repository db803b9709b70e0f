import type { Knex } from 'knex';
import pino from 'pino';
import type { Config } from '../../src/config/config';
import { BlindIndex } from '../../src/crypto/blind-index';
import type { KeyHierarchy } from '../../src/crypto/key-hierarchy';
import { keyHierarchyFromConfig } from '../../src/crypto/key-hierarchy-from-config';
import { BlindIndexKeyStore } from '../../src/store/blind-index-keys';
import { openDatabase, type Database } from '../../src/store/database';
import { newSubjectId } from '../../src/vault/ids';

const BATCH = 1000;
const WORKERS = 4;

/**
 * Fills the bench database with real subjects, fast: each gets its own subject key from the
 * vault's KeyHierarchy (wrapped by the same local keyring, against the same database) and its
 * email, name and postal address sealed under it, with the email's blind index; subjects are
 * inserted a thousand per statement, several batches at once. Not the API's path (no policy
 * decision, no audit), so only the data is real, not the cost of creating it.
 */
export class SubjectLoader {
  readonly ids: string[] = [];
  private readonly db: Database;
  private readonly keys: KeyHierarchy;
  private readonly index: BlindIndex;

  constructor(config: Config, databaseUrl: string) {
    this.db = openDatabase({ ...config.database, poolMax: WORKERS + 1, applicationName: 'pdvault-bench-loader' }, databaseUrl);
    const logger = pino({ level: 'silent' });
    // A cache of one batch's keys: the loader seals each subject right after creating its key.
    this.keys = keyHierarchyFromConfig({ ...config, keys: { ...config.keys, subjectKeyCacheSize: WORKERS * BATCH } }, { db: this.db, logger });
    this.index = new BlindIndex(this.keys, new BlindIndexKeyStore(this.db));
  }

  /** Adds subjects until `total` have been loaded by this loader; returns subjects per second. */
  async loadUpTo(total: number, progress: (loaded: number) => void = () => undefined): Promise<number> {
    const started = process.hrtime.bigint();
    const before = this.ids.length;
    let next = this.ids.length;
    const worker = async () => {
      while (next < total) {
        const count = Math.min(BATCH, total - next);
        const first = next;
        next += count;
        this.ids.push(...(await this.insertBatch(first, count)));
        progress(this.ids.length);
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, worker));
    const rate = (this.ids.length - before) / (Number(process.hrtime.bigint() - started) / 1e9);
    // What autovacuum would long have done to tables this size in service: hint bits set, the
    // visibility map and statistics current. Otherwise the first reads of a measured window
    // pay for the load (dirtying every page they touch) and the larger set looks slower for it.
    await this.db.raw('vacuum (analyze) subjects, subject_keys');
    return rate;
  }

  async count(): Promise<number> {
    const [row] = await this.db('subjects').count<Array<{ count: string }>>({ count: '*' });
    return Number(row!.count);
  }

  /** MiB the subjects and their keys take, indexes and TOAST included, beside the server's cache (shared_buffers). */
  async footprint(): Promise<{ tablesMib: number; sharedBuffers: string }> {
    const { rows } = await this.db.raw<{ rows: Array<{ bytes: string; shared_buffers: string }> }>(
      "select pg_total_relation_size('subjects') + pg_total_relation_size('subject_keys') as bytes, current_setting('shared_buffers') as shared_buffers",
    );
    return { tablesMib: Math.round(Number(rows[0]!.bytes) / 2 ** 20), sharedBuffers: rows[0]!.shared_buffers };
  }

  async close(): Promise<void> {
    this.keys.close();
    await this.db.destroy();
  }

  private async insertBatch(first: number, count: number): Promise<string[]> {
    const ids = Array.from({ length: count }, () => newSubjectId());
    await this.db.transaction(async (trx) => {
      const rows = [];
      const keyRows: unknown[] = [];
      const collecting = collectSubjectKeyRows(trx, keyRows);
      for (let i = 0; i < count; i++) {
        const id = ids[i]!;
        const person = samplePerson(first + i);
        await this.keys.createSubjectKey(id, collecting);
        const emailIndex = await this.index.email(person.email);
        rows.push({
          id,
          email: await this.keys.seal(id, 'email', person.email),
          name: await this.keys.seal(id, 'name', person.name),
          postal_address: await this.keys.seal(id, 'postal_address', JSON.stringify(person.postal_address)),
          email_index: emailIndex.value,
          email_index_version: emailIndex.version,
          preferences: JSON.stringify({}),
        });
      }
      if (keyRows.length) await trx('subject_keys').insert(keyRows);
      await trx('subjects').insert(rows);
    });
    return ids;
  }
}

/**
 * The transaction as the hierarchy sees it, except that its insert into `subject_keys` (one
 * row per subject key, already wrapped) is collected for one multi-row insert per batch; every
 * other statement goes to the real transaction. Should the hierarchy stop writing through
 * `trx('subject_keys').insert`, its own inserts simply run one by one.
 */
function collectSubjectKeyRows(trx: Knex.Transaction, rows: unknown[]): Knex.Transaction {
  return new Proxy(trx, {
    apply(target, thisArg, args: unknown[]) {
      if (args[0] === 'subject_keys') return { insert: async (row: unknown) => void rows.push(row) };
      return Reflect.apply(target, thisArg, args);
    },
  });
}

/** The n-th synthetic person: what a subscription business holds about a customer. */
export function samplePerson(n: number) {
  return {
    email: `member.${n}@example-mail.com`,
    name: `Bench Member ${n}`,
    postal_address: { line1: `${(n % 9000) + 100} Elm Street`, line2: `Apt ${n % 97}`, city: 'Springfield', region: 'IL', postal_code: String(62700 + (n % 99)), country: 'US' },
  };
}
