import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { KeyHierarchy, type KeyHierarchySettings } from '../../src/crypto/key-hierarchy';
import { keyMetrics } from '../../src/crypto/key-metrics';
import type { KeyProvider } from '../../src/crypto/key-provider';
import { LocalKeyring } from '../../src/crypto/local-keyring';
import { createLogger, type Logger } from '../../src/observability/logger';
import { createMetrics, type Metrics } from '../../src/observability/metrics';
import { openDatabase, type Database } from '../../src/store/database';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

/** A clock tests move by hand, so cache ages are exact and no test waits. */
export class ManualClock {
  private ms = 1_764_460_800_000;
  now = () => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

export const DEFAULT_SETTINGS: KeyHierarchySettings = {
  kekCacheMaxAgeMs: 300_000,
  kekCacheStaleMs: 900_000,
  kekMaxWraps: 100_000_000,
  subjectKeyCacheSize: 1000,
};

export interface LogCapture {
  logger: Logger;
  lines: string[];
}

export function captureLogs(): LogCapture {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: createLogger('debug', destination), lines };
}

/** A real PostgreSQL database of the test file's own, migrated, and a folder for a local keyring. */
export class CryptoTestBed {
  readonly hierarchies: KeyHierarchy[] = [];
  private constructor(
    readonly database: TestDatabase,
    readonly db: Database,
    readonly dataDir: string,
  ) {}

  static async create(): Promise<CryptoTestBed> {
    const database = await createTestDatabase();
    const db = openDatabase({ poolMax: 6, statementTimeoutMs: 10_000, applicationName: 'pdvault-crypto-test', migrateOnStart: false, embeddedPort: 0 }, database.url);
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pdvault-crypto-'));
    return new CryptoTestBed(database, db, dataDir);
  }

  localKeyring(logger = captureLogs().logger): LocalKeyring {
    return LocalKeyring.openOrCreate(this.dataDir, logger);
  }

  hierarchy(options: { provider?: KeyProvider; settings?: Partial<KeyHierarchySettings>; clock?: ManualClock; logs?: LogCapture; metrics?: Metrics } = {}): KeyHierarchy {
    const logs = options.logs ?? captureLogs();
    const keys = new KeyHierarchy(
      { ...DEFAULT_SETTINGS, ...options.settings },
      {
        db: this.db,
        provider: options.provider ?? this.localKeyring(logs.logger),
        logger: logs.logger,
        metrics: keyMetrics(options.metrics ?? createMetrics()),
        now: options.clock?.now,
      },
    );
    this.hierarchies.push(keys);
    return keys;
  }

  /** Forget every key row, so the next test starts without KEK generations. */
  async emptyKeyTables(): Promise<void> {
    await this.db.raw('truncate subject_keys, kek_generations');
  }

  async close(): Promise<void> {
    for (const keys of this.hierarchies) keys.close();
    await this.db.destroy();
    await this.database.drop();
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** The VaultError code a promise rejected with (fails the test if it resolved). */
export async function errorCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as { code?: string }).code ?? `uncoded ${(error as Error).name}: ${(error as Error).message}`;
  }
  throw new Error('expected the operation to fail, but it succeeded');
}
