import { SingleBar, Presets } from 'cli-progress';
import { createAudit } from '../audit/audit';
import type { Config } from '../config/config';
import { BlindIndex } from '../crypto/blind-index';
import { keyHierarchyFromConfig } from '../crypto/key-hierarchy-from-config';
import { SigningKeyRing } from '../identity/signing-keys';
import { createLogger } from '../observability/logger';
import { BlindIndexKeyStore } from '../store/blind-index-keys';
import { SigningKeyStore } from '../store/signing-keys';
import type { RotationKind } from '../store/rotation-jobs';
import { createKeyRotation } from '../vault/rotation/rotation';
import type { RotationJobView } from '../vault/rotation/rotation-jobs';
import { withCommandDatabase } from './cli-database';

export interface RotateOptions {
  kind: string;
  subjectId?: string;
  kmsKeyId?: string;
  /** Print progress on stderr as a bar (the default on a terminal). */
  progress?: boolean;
}

const KINDS: readonly RotationKind[] = ['kek', 'kms_key', 'signing', 'blind_index', 'subject'];
const FOLLOW_MS = 250;

/**
 * `pdvault keys rotate --kind <kind>`: starts the rotation as the API does and takes part in
 * it (running vault instances share the batches), with a progress bar, until it ends.
 * Returns the finished job; a failed job is an error.
 */
export async function rotateKeys(config: Config, options: RotateOptions): Promise<RotationJobView> {
  if (!KINDS.includes(options.kind as RotationKind)) throw new Error(`--kind is one of ${KINDS.join(', ')}`);
  if (options.kind === 'subject' && !options.subjectId) throw new Error('--subject-id is required for --kind subject');
  // As the API refuses a member that does not belong to the kind: an option ignored would start a rotation not asked for.
  if (options.kind !== 'subject' && options.subjectId !== undefined) throw new Error('--subject-id is only for --kind subject');
  if (options.kind !== 'kms_key' && options.kmsKeyId !== undefined) throw new Error('--kms-key-id is only for --kind kms_key');
  return withCommandDatabase(config, async (db) => {
    // Log lines go to stderr with the bar; stdout carries only the final JSON.
    const logger = createLogger(config.log.level === 'info' ? 'warn' : config.log.level, process.stderr);
    const keys = keyHierarchyFromConfig(config, { db, logger });
    const audit = createAudit({ db, settings: config.audit, sealer: keys, logger });
    const rotation = createKeyRotation({
      db,
      keys,
      index: new BlindIndex(keys, new BlindIndexKeyStore(db)),
      signingKeys: new SigningKeyRing(new SigningKeyStore(db), keys, config.identity),
      audit: audit.writer,
      logger,
      settings: config.rotation,
      signingLingerMs: (900 + config.identity.clockSkewSeconds) * 1000 + 60_000,
      checkpointKeys: audit.checkpoints,
    });
    try {
      await keys.warmUp();
      audit.start();
      rotation.runner.start();
      const started = await rotation.start({ kind: options.kind as RotationKind, subjectId: options.subjectId, kmsKeyId: options.kmsKeyId }, { clientId: 'pdvault:cli' });
      const job = await follow(started, (id) => rotation.jobs.get(id), options.progress ?? Boolean(process.stderr.isTTY));
      if (job.state === 'failed') throw new Error(`rotation ${job.job_id} failed: ${job.errors.map((e) => e.code).join(', ')}`);
      return job;
    } finally {
      await rotation.runner.stop();
      await audit.stop();
      keys.close();
    }
  });
}

async function follow(job: RotationJobView, read: (id: string) => Promise<RotationJobView>, showBar: boolean): Promise<RotationJobView> {
  const bar = showBar ? new SingleBar({ format: `${job.kind} rotation |{bar}| {percentage}% {value}/{total} {rate}/s`, stream: process.stderr }, Presets.shades_classic) : undefined;
  bar?.start(Math.max(job.total, 1), job.done, { rate: 0 });
  let current = job;
  while (current.state === 'running') {
    await new Promise((resolve) => setTimeout(resolve, FOLLOW_MS));
    current = await read(job.job_id);
    bar?.setTotal(Math.max(current.total, current.done, 1));
    bar?.update(current.done, { rate: current.rate_per_second });
  }
  bar?.stop();
  return current;
}
