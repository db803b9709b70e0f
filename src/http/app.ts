import './request-context';
import express, { type Express } from 'express';
import helmet from 'helmet';
import type { Config } from '../config/config';
import { VaultError } from '../errors/vault-error';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import { bodyParsers } from './middleware/body';
import { inputHygiene } from './middleware/input-hygiene';
import { requestId } from './middleware/request-id';
import { requestLog } from './middleware/request-log';
import { problemHandler } from './problem';
import { RouteTable } from './route-table';
import { operationsRoutes, type ReadinessCheck } from './routes/operations';

export interface AppDependencies {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  readiness: ReadinessCheck[];
}

export interface VaultApp {
  app: Express;
  routes: RouteTable;
}

export function createApp(deps: AppDependencies): VaultApp {
  const app = express();
  const routes = new RouteTable();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  app.use(requestId);
  app.use(requestLog(deps.logger, deps.metrics));
  app.use(
    helmet({
      hsts: { maxAge: 63072000, includeSubDomains: true, preload: false },
      contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    }),
  );
  // Nothing the vault answers may be kept by a cache: not data, not tokens, not errors about them.
  app.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  app.use(...bodyParsers(deps.config.http.bodyLimitBytes));
  app.use(inputHygiene);

  app.use(operationsRoutes(routes, deps.metrics, deps.readiness));

  app.use(() => {
    throw new VaultError('not_found', 404, 'No such resource');
  });
  app.use(problemHandler(deps.logger));
  return { app, routes };
}
