import type { KeyHierarchy } from '../../crypto/key-hierarchy';
import { VaultError } from '../../errors/vault-error';
import type { Logger } from '../../observability/logger';
import { describeError } from '../../observability/logger';
import type { Database } from '../../store/database';
import type { KeyRotationStore } from '../../store/key-rotation';
import type { RotationJobRow, RotationJobStore } from '../../store/rotation-jobs';
import type { RotationJobs } from './rotation-jobs';

export interface RotationRunnerSettings {
  batchSize: number;
  workers: number;
  pollMs: number;
}

// Consecutive failed attempts after which a job is given up as failed (each one recorded on the job).
const MAX_FAILURES = 5;

/**
 * Takes part in every running rotation job: each instance polls the jobs table, runs batches
 * (claimed with SKIP LOCKED, so instances never share a row), and one instance at a time,
 * under the job's row lock, checks whether the job is complete. Nothing about a job lives
 * in process memory that a crash could lose.
 */
export class RotationRunner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopping = false;
  private readonly failures = new Map<string, number>();
  /** Rows this instance processed, per job (tests: two instances share a job without overlap). */
  readonly processed = new Map<string, number>();
  private wake: (() => void) | undefined;
  private checkedSetting = false;

  constructor(
    private readonly db: Database,
    private readonly jobs: RotationJobs,
    private readonly store: RotationJobStore,
    private readonly keyStore: KeyRotationStore,
    private readonly keys: KeyHierarchy,
    private readonly settings: RotationRunnerSettings,
    private readonly logger: Logger,
    private readonly beforeEachPoll: () => Promise<void> = async () => undefined,
  ) {}

  start(): void {
    this.stopping = false;
    const loop = async () => {
      while (!this.stopping) {
        try {
          await this.poll();
        } catch (error) {
          this.logger.warn({ error: describeError(error) }, 'rotation runner poll failed');
        }
        if (this.stopping) break;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          // Never what keeps a process alive: stop() ends the loop, exit does not wait for it.
          this.timer = setTimeout(resolve, this.settings.pollMs).unref();
        });
      }
    };
    this.running = loop();
  }

  /** Looks for work now rather than at the next poll (a job was just started here). */
  nudge(): void {
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.nudge();
    await this.running;
  }

  private async poll(): Promise<void> {
    await this.adoptProviderKey();
    await this.beforeEachPoll();
    for (const job of await this.store.running()) {
      if (this.stopping) return;
      await this.drive(job);
    }
  }

  /**
   * A KMS key rotation (on another instance, or before this one started) moved the key new
   * generations are made under. Checked once, at the first poll, against the key the setting
   * names: an operator who changed PDVAULT_KMS_KEY_ID to switch keys would otherwise see no
   * effect and no word of why.
   */
  private async adoptProviderKey(): Promise<void> {
    const current = await this.keyStore.currentProviderKey();
    const inUse = this.keys.providerKeyRef();
    const first = !this.checkedSetting;
    this.checkedSetting = true;
    if (!current || inUse === undefined || inUse === current) return;
    if (first) await this.sayIfSettingSuperseded(inUse, current);
    this.keys.useProviderKey(current);
  }

  /** The setting may name the same key by its id or an alias: only another key is said, once. */
  private async sayIfSettingSuperseded(configured: string, current: string): Promise<void> {
    // The local keyring has no such setting: its versions are its own.
    if (current.startsWith('local:')) return;
    const described = await this.keys.describeProviderKey(configured).catch(() => undefined);
    if (described?.keyRef === current) return;
    this.logger.warn(
      { kms_key: current, configured },
      'KEK generations are made under the KMS key a kms_key rotation moved to, not the one PDVAULT_KMS_KEY_ID names: the setting names the first key only (set it to this ARN, or rotate to change keys)',
    );
  }

  private async drive(job: RotationJobRow): Promise<void> {
    const handler = this.jobs.handler(job.kind);
    try {
      if (handler.step && this.settings.workers > 0) {
        const step = handler.step.bind(handler);
        const worker = async () => {
          while (!this.stopping) {
            const count = await step(job, this.settings.batchSize);
            if (count === 0) return;
            this.processed.set(job.id, (this.processed.get(job.id) ?? 0) + count);
          }
        };
        await Promise.all(Array.from({ length: this.settings.workers }, worker));
      }
      if (!this.stopping) await this.tryComplete(job);
      this.failures.delete(job.id);
    } catch (error) {
      await this.onFailure(job, error);
    }
  }

  private async tryComplete(job: RotationJobRow): Promise<void> {
    const finished = await this.db.transaction(async (trx) => {
      const locked = await this.store.lockRunning(trx, job.id);
      if (!locked) return undefined;
      if (!(await this.jobs.handler(locked.kind).complete(locked, trx))) return undefined;
      return (await this.store.finish(locked.id, 'succeeded', trx)) ? locked : undefined;
    });
    if (!finished) return;
    await this.jobs.recordEnd(finished, 'succeeded');
    // The job is over and recorded; what follows only brings this instance up to date sooner.
    await this.jobs.handler(finished.kind).afterComplete?.().catch((error) => this.logger.warn({ job_id: finished.id, error: describeError(error) }, 'rotation job ended; reloading its keys here failed, they reload at the next refresh'));
  }

  private async onFailure(job: RotationJobRow, error: unknown): Promise<void> {
    const failures = (this.failures.get(job.id) ?? 0) + 1;
    this.failures.set(job.id, failures);
    // Codes and titles only: a VaultError's title never carries a value; anything else is summarised.
    const entry = error instanceof VaultError ? { code: error.code, message: error.message } : { code: 'internal_error', message: 'unexpected failure (see the vault log)' };
    this.logger.warn({ job_id: job.id, kind: job.kind, failures, error: describeError(error) }, 'rotation job step failed');
    await this.store.recordError(job.id, entry).catch(() => undefined);
    if (failures < MAX_FAILURES) return;
    this.failures.delete(job.id);
    if (await this.store.finish(job.id, 'failed').catch(() => false)) await this.jobs.recordEnd(job, 'failed', entry.code);
  }
}
