import fs from 'node:fs';
import { Client } from 'pg';
import { ADMIN_URL_ENV, EMBEDDED_DIR_ENV, RUN_DIR_ENV, TEMPLATE_ENV } from './test-database';

export default async function globalTeardown(): Promise<void> {
  const cluster = (globalThis as { embeddedCluster?: { stop(): Promise<void> } }).embeddedCluster;
  const adminUrl = process.env[ADMIN_URL_ENV];
  if (adminUrl && !cluster) {
    // A shared server: remove what this run created there (its template and the databases named
    // after it), and nothing of another run's. Not LIKE: `_` is a wildcard there.
    const admin = new Client({ connectionString: adminUrl });
    await admin.connect();
    const { rows } = await admin.query<{ datname: string }>('select datname from pg_database where starts_with(datname, $1)', [process.env[TEMPLATE_ENV]]);
    for (const { datname } of rows) await admin.query(`drop database if exists "${datname}" with (force)`);
    await admin.end();
  }
  if (cluster) {
    await cluster.stop();
    fs.rmSync(process.env[EMBEDDED_DIR_ENV]!, { recursive: true, force: true });
  }
  if (process.env[RUN_DIR_ENV]) fs.rmSync(process.env[RUN_DIR_ENV], { recursive: true, force: true });
}
