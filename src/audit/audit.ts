import type { AuditSettings } from '../config/config';
import { describeError, type Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import { AuditCheckpointStore } from '../store/audit-checkpoints';
import { AuditEventStore } from '../store/audit-events';
import type { Database } from '../store/database';
import { CheckpointSigner, type SecretSealer } from './checkpoints';
import { AuditTrail } from './trail';
import { ChainVerifier } from './verify';
import { AuditWriter, type AuditSink } from './writer';

/** Everything the rest of the vault uses of the audit trail. */
export interface Audit {
  /** append(events): resolves after the commit, rejects with 503 `audit_unavailable`. */
  writer: AuditSink & { stop(): Promise<void> };
  trail: AuditTrail;
  checkpoints: CheckpointSigner;
  /** Starts periodic checkpoints. */
  start(): void;
  /** Commits what is waiting, signs a last checkpoint, stops. */
  stop(): Promise<void>;
}

export interface AuditDependencies {
  db: Database;
  settings: AuditSettings;
  sealer: SecretSealer;
  logger: Logger;
  metrics?: Metrics;
  /**
   * BENCHMARK ONLY: events are dropped instead of written, to measure what auditing costs
   * (issue 5's "audited vs unaudited" comparison). Never reachable from configuration.
   */
  unauditedForBenchmark?: boolean;
}

export function createAudit(deps: AuditDependencies): Audit {
  const { db, settings, logger } = deps;
  const events = new AuditEventStore(db);
  const checkpointStore = new AuditCheckpointStore(db);
  const writer = deps.unauditedForBenchmark
    ? { append: async () => undefined, stop: async () => undefined }
    : new AuditWriter(events, settings, logger, deps.metrics);
  if (deps.unauditedForBenchmark) logger.warn('AUDITING IS OFF: this vault was started for a benchmark and writes no audit events');
  const checkpoints = new CheckpointSigner(db, checkpointStore, events, deps.sealer, settings, logger);
  const trail = new AuditTrail(events, writer, new ChainVerifier(db, events, checkpointStore));
  return {
    writer,
    trail,
    checkpoints,
    start: () => checkpoints.start(),
    async stop() {
      checkpoints.stop();
      await writer.stop();
      await checkpoints.signNow().catch((error) => logger.warn({ err: describeError(error) }, 'final audit checkpoint not signed'));
    },
  };
}
