import crypto from 'node:crypto';
import type { AuditSink } from '../../audit/writer';
import { VaultError } from '../../errors/vault-error';
import type { Logger } from '../../observability/logger';
import { describeError } from '../../observability/logger';
import type { Database } from '../../store/database';
import { PreparedVersionTaken, RotationAlreadyRunning, type RotationJobRow, type RotationJobStore, type RotationKind } from '../../store/rotation-jobs';
import type { PreparedRotation, RotationKindHandler, RotationRequest } from './rotation-kind';

export const JOB_ID_PATTERN = /^job_[A-Za-z0-9_-]{22}$/;

// A start whose prepared version another start took prepares again, up to this many times in all.
const MAX_START_ATTEMPTS = 3;

/** Who asked: an admin client through the API, the CLI, or the vault's own schedule. */
export interface RotationActor {
  clientId: string;
  scopes?: string[];
  requestId?: string;
  sourceAddress?: string;
}

/** A job as the security team sees it: progress, timing and errors; ids only, never key material. */
export interface RotationJobView {
  job_id: string;
  kind: RotationKind;
  state: 'running' | 'succeeded' | 'failed';
  done: number;
  total: number;
  rate_per_second: number;
  started_at: string;
  finished_at: string | null;
  updated_at: string;
  started_by: string;
  params: Record<string, string | number>;
  errors: Array<{ at: string; code: string; message: string }>;
}

/** Starting and reading rotation jobs; the runner does their work. Every start, finish and failure is audited. */
export class RotationJobs {
  constructor(
    private readonly db: Database,
    private readonly store: RotationJobStore,
    private readonly handlers: Record<RotationKind, RotationKindHandler>,
    private readonly audit: AuditSink,
    private readonly logger: Logger,
  ) {}

  handler(kind: RotationKind): RotationKindHandler {
    return this.handlers[kind];
  }

  /**
   * Prepares the job's new key, then records the job and stores the key in one transaction; 409
   * with the running job's id when one of its kind runs. What may take pooled connections
   * (sealing, wrap reservations) happens before: a transaction waiting on those while it holds
   * its own connection (and, for a second start of the kind, waits on the first's job row) could
   * take the whole pool. A running job is looked for before anything is made, and a start refused
   * in the transaction leaves no key behind.
   *
   * The start is audited as allowed before the transaction that makes it take effect, as every
   * change the vault makes is: recorded after the commit, a crash between the two would leave a
   * rotation running that no one is recorded as starting. A start refused before it (a job of the
   * kind running, no such subject) is audited as denied; one refused in that transaction (a KMS
   * key the provider finds unusable, a job started meanwhile), as denied `not_done:<code>` after
   * the allowed event. A 5xx there records nothing more: its commit's outcome may be unknown.
   */
  async start(request: RotationRequest, actor: RotationActor): Promise<RotationJobView> {
    const id = `job_${crypto.randomBytes(16).toString('base64url')}`;
    const event = { action: 'keys.rotation.start', clientId: actor.clientId, scopes: actor.scopes, requestId: actor.requestId, sourceAddress: actor.sourceAddress };
    let audited = false;
    const auditStart = async () => {
      if (audited) return;
      await this.audit.append([{ ...event, outcome: 'allowed', target: id }]);
      audited = true;
    };
    let recorded: { job: RotationJobRow; prepared: PreparedRotation };
    try {
      recorded = await this.prepareAndRecord(request, id, actor.clientId, auditStart);
    } catch (error) {
      const running = error instanceof RotationAlreadyRunning;
      const code = running ? 'rotation_already_running' : error instanceof VaultError ? error.code : 'rotation_start_failed';
      const refused = running || (error instanceof VaultError && error.status < 500);
      const [job] = running ? await this.store.running(request.kind) : [];
      // Refused before it was recorded, the start made no job: the event names the running one, or none.
      if (!audited) await this.audit.append([{ ...event, outcome: 'denied', reason: code, target: job?.id }]);
      else if (refused) await this.audit.append([{ ...event, outcome: 'denied', reason: `not_done:${code}`, target: id }]);
      throw running ? alreadyRunning(request.kind, job) : error;
    }
    const { prepared } = recorded;
    // The job and its key are committed: this instance uses the key before anything else can fail.
    await (async () => prepared.committed?.())().catch((error: unknown) => {
      this.logger.warn({ job_id: id, kind: request.kind, error: describeError(error) }, 'rotation started; this instance picks up the new key at its next reload');
    });
    // Other instances see the new key from the commit on, a moment after the start was stamped
    // inside the transaction: the start is stamped again, so a KEK job's shortest duration counts
    // from the commit. Should this fail, the stamp before the commit stands (the margin covers it).
    const stamped = await this.store.markStartedNow(id).catch((error: unknown) => {
      this.logger.warn({ job_id: id, error: describeError(error) }, 'rotation job start time not re-stamped after its commit');
      return undefined;
    });
    // The job as stored: its start as stamped after the commit, or as it stands if it ended meanwhile.
    const job = stamped ?? (await this.store.find(id).catch(() => undefined)) ?? recorded.job;
    this.logger.info({ job_id: id, kind: request.kind, total: job.total }, 'rotation job started');
    return view(job);
  }

  /**
   * The job's key, then the job and the key in one transaction, `beforeRecording` awaited before
   * it. A key prepared for a version another start took meanwhile (that start's job ran, and may
   * have finished) is abandoned and prepared again: the caller asked for a rotation, and none
   * runs. A start that loses that race three times running is refused as already running.
   */
  private async prepareAndRecord(request: RotationRequest, id: string, startedBy: string, beforeRecording: () => Promise<void>): Promise<{ job: RotationJobRow; prepared: PreparedRotation }> {
    for (let attempt = 1; ; attempt++) {
      if ((await this.store.running(request.kind)).length > 0) throw new RotationAlreadyRunning(request.kind);
      const prepared = await this.handlers[request.kind].prepare(request);
      try {
        await beforeRecording();
        const job = await this.db.transaction(async (trx) => {
          await this.store.insert(trx, { id, kind: request.kind, params: {}, total: 0, startedBy });
          const recorded = await prepared.record(trx);
          // Started once its new key exists (and stamped again once it is committed, in start).
          await trx('rotation_jobs').where({ id }).update({ params: JSON.stringify(recorded.params), total: recorded.total, started_at: trx.raw('statement_timestamp()'), updated_at: trx.raw('statement_timestamp()') });
          return (await this.store.find(id, trx))!;
        });
        return { job, prepared };
      } catch (error) {
        prepared.abandoned?.();
        if (error instanceof PreparedVersionTaken && attempt < MAX_START_ATTEMPTS) continue;
        throw error;
      }
    }
  }

  async get(id: string): Promise<RotationJobView> {
    const job = JOB_ID_PATTERN.test(id) ? await this.store.find(id) : undefined;
    if (!job) throw new VaultError('job_not_found', 404, 'No such job');
    return view(job);
  }

  async list(limit = 50): Promise<RotationJobView[]> {
    return (await this.store.latest(limit)).map((job) => view(job));
  }

  /** The end of a job, audited after its state is committed. */
  async recordEnd(job: RotationJobRow, outcome: 'succeeded' | 'failed', reason?: string): Promise<void> {
    const action = outcome === 'succeeded' ? 'keys.rotation.finish' : 'keys.rotation.fail';
    this.logger.info({ job_id: job.id, kind: job.kind, outcome }, 'rotation job ended');
    try {
      await this.audit.append([{ action, outcome: outcome === 'succeeded' ? 'allowed' : 'denied', reason, clientId: job.startedBy, target: job.id }]);
    } catch (error) {
      this.logger.error({ job_id: job.id, error: describeError(error) }, 'rotation job end could not be audited');
    }
  }
}

/** A start refused because a job of its kind runs, answered with that job's id. */
function alreadyRunning(kind: RotationKind, running: RotationJobRow | undefined): VaultError {
  return new VaultError('rotation_already_running', 409, `A ${kind} rotation is already running`, {
    // The running job's id, as the detail and as where to follow it.
    detail: running?.id,
    headers: running ? { 'Content-Location': `/v1/admin/jobs/${running.id}` } : undefined,
  });
}

export function view(job: RotationJobRow, now = new Date()): RotationJobView {
  // A running job's rate is to now: measured to its last update, it would stand still while the
  // job does. Never before its last update, which the database stamped on its own clock.
  const end = job.finishedAt ?? new Date(Math.max(now.getTime(), job.updatedAt.getTime()));
  const seconds = Math.max(0.001, (end.getTime() - job.startedAt.getTime()) / 1000);
  return {
    job_id: job.id,
    kind: job.kind,
    state: job.state,
    done: job.done,
    total: job.total,
    rate_per_second: Math.round((job.done / seconds) * 10) / 10,
    started_at: job.startedAt.toISOString(),
    finished_at: job.finishedAt ? job.finishedAt.toISOString() : null,
    updated_at: job.updatedAt.toISOString(),
    started_by: job.startedBy,
    params: job.params,
    errors: job.errors,
  };
}
