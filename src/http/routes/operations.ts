import fs from 'node:fs';
import path from 'node:path';
import type { Router } from 'express';
import type { Metrics } from '../../observability/metrics';
import { caseSensitiveRouter, type RouteTable } from '../route-table';

/** A named dependency the vault needs to serve; `/readyz` reports each one. */
export interface ReadinessCheck {
  name: string;
  check(): Promise<{ ok: boolean; detail?: string }>;
}

const OPENAPI_FILE = path.resolve(__dirname, '../../../..', 'openapi.yaml');
const OPENAPI_FALLBACK = path.resolve(__dirname, '../../..', 'openapi.yaml');

export function operationsRoutes(routes: RouteTable, metrics: Metrics, readiness: ReadinessCheck[]): Router {
  const router = caseSensitiveRouter();
  const openapi = fs.readFileSync(fs.existsSync(OPENAPI_FILE) ? OPENAPI_FILE : OPENAPI_FALLBACK, 'utf8');

  routes.add(router, '/healthz', {
    get: (_req, res) => {
      res.json({ status: 'ok' });
    },
  });
  routes.add(router, '/readyz', {
    get: async (_req, res) => {
      const checks = await Promise.all(readiness.map(runCheck));
      const ready = checks.every((c) => c.ok);
      res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', checks });
    },
  });
  routes.add(router, '/metrics', {
    get: async (_req, res) => {
      res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    },
  });
  routes.add(router, '/openapi.yaml', {
    get: (_req, res) => {
      res.type('application/yaml').send(openapi);
    },
  });
  return router;
}

/** A dependency that does not answer in this time is reported down: a probe must not hang with it. */
const CHECK_TIME_LIMIT_MS = 2000;

async function runCheck(readiness: ReadinessCheck): Promise<{ name: string; ok: boolean; detail?: string }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<{ ok: false; detail: string }>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, detail: 'no answer in time' }), CHECK_TIME_LIMIT_MS);
  });
  try {
    return { name: readiness.name, ...(await Promise.race([readiness.check(), late])) };
  } catch {
    // The error may name hosts or users; readiness says only that the dependency is down.
    return { name: readiness.name, ok: false, detail: 'unreachable' };
  } finally {
    clearTimeout(timer);
  }
}
