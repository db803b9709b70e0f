import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { migrateToLatest, openDatabase } from '../../src/store/database';
import { startEmbeddedPostgres } from '../../src/store/embedded-postgres';
import { freePort } from './ports';
import { TEMPLATE_ENV, ADMIN_URL_ENV, EMBEDDED_DIR_ENV, RUN_DIR_ENV } from './test-database';

/**
 * Once per run: a PostgreSQL to test against (the one DATABASE_URL names, else an embedded
 * one in a temporary folder), and a migrated template database that each test file clones.
 */
export default async function globalSetup(): Promise<void> {
  process.env[RUN_DIR_ENV] = fs.mkdtempSync(path.join(os.tmpdir(), 'pdvault-test-run-'));
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pdvault-test-pg-'));
    fs.chmodSync(dir, 0o711);
    const cluster = await startEmbeddedPostgres({ dir, port: await freePort(), database: 'postgres' });
    adminUrl = cluster.adminUrl;
    process.env[EMBEDDED_DIR_ENV] = dir;
    (globalThis as { embeddedCluster?: unknown }).embeddedCluster = cluster;
  }
  // Named for this run alone: runs sharing a server (two CI jobs) never touch each other's databases.
  const template = `pdvault_template_${crypto.randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`drop database if exists ${template}`);
  await admin.query(`create database ${template}`);
  await admin.end();

  const db = openDatabase(testDatabaseSettings(), withDatabase(adminUrl, template));
  await migrateToLatest(db);
  await db.destroy();
  process.env[ADMIN_URL_ENV] = adminUrl;
  process.env[TEMPLATE_ENV] = template;
}

function testDatabaseSettings() {
  return { poolMax: 2, statementTimeoutMs: 30000, applicationName: 'pdvault-test', migrateOnStart: true, embeddedPort: 0 };
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
