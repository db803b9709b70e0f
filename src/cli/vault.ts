import type { DestinationStream } from 'pino';
import { firstLine } from './cli-database';
import { createAudit, type Audit } from '../audit/audit';
import { auditEventOfIdentity } from '../audit/identity-events';
import type { Config } from '../config/config';
import { createApp, type VaultApp } from '../http/app';
import { createIdentity, type Identity } from '../identity/identity';
import type { ReadinessCheck } from '../http/routes/operations';
import { listenHttps, type RunningServer } from '../http/server';
import { tlsServerOptions } from '../http/tls-options';
import { createLogger, type Logger } from '../observability/logger';
import { createMetrics, type Metrics } from '../observability/metrics';
import { createPolicy, type Policy } from '../policy/policy';
import { createVaultDomain, type VaultDomain } from '../vault/vault';
import { digestUntilDone } from '../vault/idempotency-key-digests';
import { createKeyRotation, type KeyRotation } from '../vault/rotation/rotation';
import { describeError } from '../observability/logger';
import type { KeyHierarchy } from '../crypto/key-hierarchy';
import { keyHierarchyFromConfig } from '../crypto/key-hierarchy-from-config';
import { keyMetrics } from '../crypto/key-metrics';
import { followSubjectKeyDeletions } from '../crypto/subject-key-feed';
import {
  databaseIsReachable,
  migrateToLatest,
  migrationsAreCurrent,
  openDatabase,
  poolStats,
  type Database,
} from '../store/database';

export interface RunningVault {
  url: string;
  port: number;
  db: Database;
  logger: Logger;
  metrics: Metrics;
  routes: VaultApp['routes'];
  identity: Identity;
  /** The key hierarchy: every personal value and vault secret is sealed through it. */
  keys: KeyHierarchy;
  /** The decision point, the versioned purpose catalogue, break-glass approvals. */
  policy: Policy;
  /** The audit writer (group commit, fail closed), checkpoints, reading and verifying the trail. */
  audit: Audit;
  /** The data domain: subjects, email resolution, payment methods, export. */
  domain: VaultDomain;
  /** Key inventory and online rotation jobs (this instance takes part in every running job). */
  rotation: KeyRotation;
  /** Graceful stop: no new connections, in-flight requests finish, then the pool closes. */
  stop(): Promise<void>;
}

export interface StartOptions {
  logDestination?: DestinationStream;
  /** BENCHMARK ONLY (bench/): audit events are dropped, to measure what auditing costs. */
  unauditedForBenchmark?: boolean;
}

/**
 * Composition root: wires configuration, database, HTTP app and HTTPS listener. `config` must
 * be complete (database URL and TLS files resolved), which the start command ensures.
 */
export async function startVault(config: Config, options: StartOptions = {}): Promise<RunningVault> {
  if (!config.database.url) throw new Error('database URL must be resolved before the vault starts');
  // Before anything starts: a certificate or key the listener could not serve with is said in one line.
  const tls = tlsServerOptions(config.tls, config.http.headersTimeoutMs);
  const logger = createLogger(config.log.level, options.logDestination);
  const metrics = createMetrics();
  const db = openDatabase(config.database, config.database.url, {
    warn: (message) => logger.warn({ component: 'database' }, firstLine(message)),
    error: (message) => logger.error({ component: 'database' }, firstLine(message)),
  });
  try {
    if (config.database.migrateOnStart) {
      const applied = await migrateToLatest(db);
      if (applied.length) logger.info({ migrations: applied }, 'migrations applied');
    } else if (!(await migrationsAreCurrent(db))) {
      // Serving on a schema it does not know answers 500s; whoever turned migrations off runs them.
      throw new Error('the database has pending migrations and PDVAULT_MIGRATE_ON_START is false; run `pdvault migrate` first');
    }
    registerPoolGauges(metrics, db);
    const keys = keyHierarchyFromConfig(config, { db, logger, metrics: keyMetrics(metrics) });
    metrics.gauge('pdvault_subject_keys_cached', 'Subjects whose unwrapped keys this instance holds in memory (at most PDVAULT_SUBJECT_KEY_CACHE_ENTRIES).', () => keys.cachedSubjects);
    const keyDeletions = followSubjectKeyDeletions(db, keys, (error) =>
      logger.warn({ err: describeError(error) }, 'subject key feed lost; no subject key is kept in memory past its use until it is back'),
    );
    // A provider outage at start is not fatal: /readyz reports it and reads recover with it.
    await keys.warmUp().catch((error) => logger.warn({ error: describeError(error) }, 'key provider not usable at start'));
    let stopping = false;
    const readiness: ReadinessCheck[] = [
      { name: 'database', check: async () => ({ ok: await databaseIsReachable(db) }) },
      {
        name: 'migrations',
        check: async () => ((await migrationsAreCurrent(db)) ? { ok: true } : { ok: false, detail: 'pending migrations' }),
      },
      keys.readinessCheck(config.keys.kms.readinessCheckMs),
      // From the moment it stops, an instance tells its load balancer to send traffic elsewhere.
      { name: 'accepting_requests', check: async () => (stopping ? { ok: false, detail: 'shutting down' } : { ok: true }) },
    ];
    // JWT signing keys are sealed under the key hierarchy; like the KEK warm-up, a provider
    // outage at start is not fatal: the signing key loads on first use once the provider answers.
    // Every audit event goes through one writer; identity and policy report to it through their hooks.
    const audit = createAudit({ db, settings: config.audit, sealer: keys, logger, metrics, unauditedForBenchmark: options.unauditedForBenchmark });
    const identityAudit = { record: (event: Parameters<typeof auditEventOfIdentity>[0]) => audit.writer.append([auditEventOfIdentity(event)]) };
    const policy = createPolicy({ db, settings: config.policy, audit: { record: (events) => audit.writer.append(events) } });
    const identity = createIdentity({
      db,
      settings: config.identity,
      sealer: keys,
      metrics,
      audit: identityAudit,
      purposeInForce: async (purpose) => Object.hasOwn((await policy.catalogue.current()).document.purposes, purpose),
      onFeedError: (error) => logger.warn({ err: describeError(error) }, 'client change feed lost; token standing is read from the database until it is back'),
    });
    await identity.signingKeys.start().catch((error) => logger.warn({ error: describeError(error) }, 'signing key not loaded at start'));
    const domain = createVaultDomain({ db, keys, decisions: policy.decisions, trail: audit.trail, preferenceDefaults: config.policy });
    const rotation = createKeyRotation({
      db,
      keys,
      index: domain.index,
      signingKeys: identity.signingKeys,
      audit: audit.writer,
      logger,
      settings: config.rotation,
      // The signing ring publishes a retired key for the longest token lifetime, the skew and its refresh after retirement.
      signingLingerMs: (900 + config.identity.clockSkewSeconds) * 1000 + 60_000,
      checkpointKeys: audit.checkpoints,
    });
    const { app, routes } = createApp({ config, logger, metrics, readiness, identity, policy, audit, domain, rotation });
    const server: RunningServer = await listenHttps(app, config, logger, tls);
    // Unconfigured, the issuer is the listener's own URL (known only now, for port 0).
    config.identity.issuer ??= server.url;
    audit.start();
    rotation.runner.start();
    // Not awaited past its first attempt: until the feed listens, requests simply ask the database.
    await identity.start();
    await keyDeletions.start();
    // Until it is done, keys stored as sent are still found as sent.
    const stopDigesting = new AbortController();
    const digesting = digestUntilDone(() => domain.digestKeysStoredAsSent(stopDigesting.signal), stopDigesting.signal, {
      done: ({ changed, kept }) => {
        if (changed > 0) logger.info({ keys: changed }, 'Idempotency-Keys stored as sent by an earlier release are now stored as digests');
        if (kept > 0) logger.warn({ keys: kept }, 'Idempotency-Keys stored as sent were kept beside a digest of the same key');
      },
      // Only the error's kind: the message of a failed query may quote its parameters, keys as sent among them.
      failed: (error) => logger.warn({ err: { name: (error as Error)?.name, code: (error as { code?: unknown })?.code } }, 'Idempotency-Keys stored as sent were not all turned into digests; trying again in a minute'),
    });
    return {
      url: server.url,
      port: server.port,
      db,
      logger,
      metrics,
      routes,
      identity,
      keys,
      policy,
      audit,
      domain,
      rotation,
      async stop() {
        stopping = true;
        stopDigesting.abort();
        await server.close();
        await identity.stop();
        await keyDeletions.stop();
        // A batch in flight commits or rolls back; the job stays running for whichever instance is left.
        await rotation.runner.stop();
        await digesting;
        // Requests have drained: commit their last events and sign the head before the pool closes.
        await audit.stop();
        keys.close();
        await db.destroy();
        metrics.close();
        logger.flush();
      },
    };
  } catch (error) {
    await db.destroy();
    metrics.close();
    throw error;
  }
}

function registerPoolGauges(metrics: Metrics, db: Database): void {
  metrics.gauge('pdvault_db_pool_used', 'Connections in use.', () => poolStats(db).used);
  metrics.gauge('pdvault_db_pool_free', 'Idle connections.', () => poolStats(db).free);
  metrics.gauge('pdvault_db_pool_pending', 'Requests waiting for a connection.', () => poolStats(db).pending);
}
