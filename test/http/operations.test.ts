import http from 'node:http';
import net from 'node:net';
import express from 'express';
import helmet from 'helmet';
import request from 'supertest';
import { operationsRoutes } from '../../src/http/routes/operations';
import { RouteTable } from '../../src/http/route-table';
import { bodyReader } from '../../src/http/middleware/body';
import { createMetrics } from '../../src/observability/metrics';
import { HELMET_OPTIONS } from '../../src/http/middleware/security-headers';
import { startTestVault, type TestVault } from '../support/test-vault';

let vault: TestVault;
beforeAll(async () => {
  vault = await startTestVault();
});
afterAll(() => vault.stop());

describe('operations endpoints', () => {
  it('answers with every header helmet sets for the vault, with helmet\'s values, data and errors alike', async () => {
    // helmet on a real Node response, independently of how the vault applies the same headers.
    const reference = new http.ServerResponse(new http.IncomingMessage(new net.Socket()));
    helmet(HELMET_OPTIONS)(reference.req, reference, () => undefined);
    const expected = reference.getHeaders();
    expect(Object.keys(expected).length).toBeGreaterThan(5);
    for (const res of [await vault.get('/healthz').expect(200), await vault.get('/v1/nothing-here').expect(404)]) {
      for (const [name, value] of Object.entries(expected)) expect([name, res.headers[name]]).toEqual([name, String(value)]);
    }
  });

  it('answers /healthz over HTTPS with security headers and no-store', async () => {
    const res = await vault.get('/healthz').expect(200);
    expect(res.body).toEqual({ status: 'ok' });
    expect(res.headers['strict-transport-security']).toBe('max-age=63072000; includeSubDomains');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['x-request-id']).toMatch(/^req_/);
  });

  it('reports ready when the database is reachable and migrations are current', async () => {
    const res = await vault.get('/readyz').expect(200);
    expect(res.body.status).toBe('ready');
    expect(res.body.checks).toEqual(expect.arrayContaining([{ name: 'database', ok: true }, { name: 'migrations', ok: true }]));
  });

  it('reports not ready when a migration is pending', async () => {
    await vault.vault.db('knex_migrations').where({ name: '20261130_001_vault_meta' }).delete();
    try {
      const res = await vault.get('/readyz').expect(503);
      expect(res.body.checks).toContainEqual({ name: 'migrations', ok: false, detail: 'pending migrations' });
    } finally {
      await vault.vault.db('knex_migrations').insert({ name: '20261130_001_vault_meta', batch: 1, migration_time: new Date() });
    }
  });

  it('exposes request durations by route template and pool gauges at /metrics', async () => {
    await vault.get('/healthz').expect(200);
    const res = await vault.get('/metrics').expect(200);
    expect(res.text).toMatch(/pdvault_http_request_duration_seconds_count\{method="GET",route="\/healthz",status="200"\} \d+/);
    expect(res.text).toContain('pdvault_db_pool_used');
    expect(res.text).toContain('pdvault_db_pool_free');
    // Open to anyone who reaches the port: process figures, but not which Node release runs.
    expect(res.text).toContain('pdvault_process_cpu_user_seconds_total');
    expect(res.text).not.toContain(process.version);
  });

  it('serves its own OpenAPI description', async () => {
    const res = await vault.get('/openapi.yaml').expect(200);
    expect(res.text).toContain('openapi: 3.1.0');
  });
});

describe('/readyz with a dependency that does not answer', () => {
  it('reports it down instead of hanging with it', async () => {
    const app = express().use(operationsRoutes(new RouteTable(bodyReader(1024)), createMetrics(), [
      { name: 'database', check: () => new Promise(() => undefined) },
      { name: 'migrations', check: async () => ({ ok: true }) },
    ]));
    const res = await request(app).get('/readyz').expect(503);
    expect(res.body.checks).toEqual([
      { name: 'database', ok: false, detail: 'no answer in time' },
      { name: 'migrations', ok: true },
    ]);
  });
});
