import type { Database } from './database';

/** One version of the purpose catalogue, as stored; the document is validated by policy/. */
export interface StoredPolicyVersion {
  version: number;
  document: unknown;
  createdBy: string;
  createdAt: Date;
}

interface Row {
  version: number;
  document: unknown;
  created_by: string;
  created_at: Date;
}

/** Thrown when another replacement took this version number first. */
export class PolicyVersionTaken extends Error {
  override name = 'PolicyVersionTaken';
}

/** The `policy_versions` table: append-only, the highest version is the current policy. */
export class PolicyVersionStore {
  constructor(private readonly db: Database) {}

  async currentVersion(): Promise<number> {
    const row = await this.db('policy_versions').max<{ max: number | null }>('version as max').first();
    return row?.max ?? 0;
  }

  async current(): Promise<StoredPolicyVersion | undefined> {
    const row = await this.db<Row>('policy_versions').orderBy('version', 'desc').first();
    return row && toVersion(row);
  }

  async find(version: number): Promise<StoredPolicyVersion | undefined> {
    const row = await this.db<Row>('policy_versions').where({ version }).first();
    return row && toVersion(row);
  }

  /** Every version, newest first, without the documents. */
  async list(): Promise<Omit<StoredPolicyVersion, 'document'>[]> {
    const rows = await this.db<Row>('policy_versions').select('version', 'created_by', 'created_at').orderBy('version', 'desc');
    return rows.map((row) => ({ version: row.version, createdBy: row.created_by, createdAt: row.created_at }));
  }

  async insert(version: number, document: unknown, createdBy: string): Promise<StoredPolicyVersion> {
    try {
      const [row] = await this.db<Row>('policy_versions')
        .insert({ version, document: JSON.stringify(document), created_by: createdBy })
        .returning('*');
      return toVersion(row as Row);
    } catch (error) {
      if ((error as { code?: string }).code === '23505') throw new PolicyVersionTaken('policy version already exists');
      throw error;
    }
  }
}

const toVersion = (row: Row): StoredPolicyVersion => ({
  version: row.version,
  document: row.document,
  createdBy: row.created_by,
  createdAt: row.created_at,
});
