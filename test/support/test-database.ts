import crypto from 'node:crypto';
import { Client } from 'pg';

export const ADMIN_URL_ENV = 'VAULT_TEST_ADMIN_URL';
export const TEMPLATE_ENV = 'VAULT_TEST_TEMPLATE';
export const EMBEDDED_DIR_ENV = 'VAULT_TEST_EMBEDDED_DIR';
/** A folder for this run's files (test certificates), removed when the run ends. */
export const RUN_DIR_ENV = 'VAULT_TEST_RUN_DIR';

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A fresh, migrated database of its own for one test file: cloned from the run's template. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = process.env[ADMIN_URL_ENV];
  const template = process.env[TEMPLATE_ENV];
  if (!adminUrl || !template) throw new Error('test database not set up: run the tests through jest');
  // Named after the run's template, so the run's teardown finds it and no other run's.
  const name = `${template}_${crypto.randomBytes(6).toString('hex')}`;
  await withAdmin(adminUrl, (admin) => admin.query(`create database ${name} template ${template}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: () => withAdmin(adminUrl, (admin) => admin.query(`drop database if exists ${name} with (force)`)).then(() => undefined),
  };
}

async function withAdmin<T>(adminUrl: string, action: (client: Client) => Promise<T>): Promise<T> {
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    return await action(admin);
  } finally {
    await admin.end();
  }
}
