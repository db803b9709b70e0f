import { VaultError } from '../errors/vault-error';
import { describeError, type Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import type { AuditEventStore } from '../store/audit-events';
import { chainEvents } from './chain';
import { stamp, type AuditEventInput, type StampedEvent } from './events';

export interface AuditWriterSettings {
  commitIntervalMs: number;
  maxBatch: number;
  queueLimit: number;
}

/** The one way anything is written to the audit trail. */
export interface AuditSink {
  /** Resolves once every event is durably committed; rejects with 503 `audit_unavailable` otherwise. */
  append(events: readonly AuditEventInput[]): Promise<void>;
}

interface Waiting {
  events: StampedEvent[];
  resolve(): void;
  reject(error: Error): void;
}

export const auditUnavailable = (cause?: unknown) =>
  new VaultError('audit_unavailable', 503, 'The audit trail cannot be written; nothing was revealed or changed', { headers: { 'Retry-After': '1' }, cause });

/**
 * Group commit with fail-closed semantics (DESIGN.md, "Audit"). Events of concurrent requests
 * collect for `commitIntervalMs`, then are numbered and hashed after the chain head and go to
 * PostgreSQL in one transaction (AuditEventStore.appendChained keeps the chain linear across
 * instances). Every caller's promise settles with its commit: resolved once the events are
 * durable, rejected with 503 `audit_unavailable` when the transaction fails. One transaction is
 * in flight per instance; what arrives meanwhile forms the next group.
 */
export class AuditWriter implements AuditSink {
  private waiting: Waiting[] = [];
  private waitingEvents = 0;
  private timer?: NodeJS.Timeout;
  private committing?: Promise<void>;
  private stopped = false;
  private readonly appended;
  private readonly failures;

  constructor(
    private readonly store: AuditEventStore,
    private readonly settings: AuditWriterSettings,
    private readonly logger: Logger,
    metrics?: Metrics,
  ) {
    this.appended = metrics?.counter('pdvault_audit_events_total', 'Audit events committed, by outcome.', ['outcome'] as const);
    this.failures = metrics?.counter('pdvault_audit_commit_failures_total', 'Audit group commits that failed (their requests got 503).', [] as const);
    metrics?.gauge('pdvault_audit_events_waiting', 'Audit events waiting for their group commit.', () => this.waitingEvents);
  }

  append(events: readonly AuditEventInput[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    if (this.stopped) return Promise.reject(auditUnavailable());
    let stamped: StampedEvent[];
    try {
      const now = new Date();
      stamped = events.map((event) => stamp(event, now));
    } catch (error) {
      return Promise.reject(error);
    }
    // A database that cannot keep up must not turn into unbounded memory: refuse at once.
    if (this.waitingEvents + stamped.length > this.settings.queueLimit) return Promise.reject(auditUnavailable());
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ events: stamped, resolve, reject });
      this.waitingEvents += stamped.length;
      this.schedule(this.settings.commitIntervalMs);
    });
  }

  /** Commits what is waiting, then refuses new events. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.committing || this.waiting.length) {
      await (this.committing ?? this.commitNext());
    }
  }

  private schedule(delayMs: number): void {
    // Once stopped, stop() itself drains what is left.
    if (this.stopped || this.timer || this.committing || this.waiting.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.commitNext();
    }, delayMs);
  }

  private commitNext(): Promise<void> {
    const committing = this.commit().finally(() => {
      this.committing = undefined;
      // Whatever arrived during the commit has waited long enough already.
      this.schedule(0);
    });
    this.committing = committing;
    return committing;
  }

  private async commit(): Promise<void> {
    const group: Waiting[] = [];
    let size = 0;
    while (this.waiting.length && (size === 0 || size + this.waiting[0]!.events.length <= this.settings.maxBatch)) {
      const next = this.waiting.shift()!;
      group.push(next);
      size += next.events.length;
    }
    this.waitingEvents -= size;
    if (group.length === 0) return;
    const events = group.flatMap((waiting) => waiting.events);
    try {
      await this.store.appendChained((head) => chainEvents(head, events));
    } catch (error) {
      this.failures?.inc();
      this.logger.error({ err: describeError(error), events: size }, 'audit commit failed; the requests waiting for it fail closed');
      for (const waiting of group) waiting.reject(auditUnavailable(error));
      return;
    }
    // One increment per outcome, not per event: a 1,000-id batch is a thousand events.
    const denied = events.reduce((count, event) => (event.outcome === 'denied' ? count + 1 : count), 0);
    if (denied > 0) this.appended?.inc({ outcome: 'denied' }, denied);
    if (events.length > denied) this.appended?.inc({ outcome: 'allowed' }, events.length - denied);
    for (const waiting of group) waiting.resolve();
  }
}
