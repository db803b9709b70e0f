import type { FieldLevel } from './vocabulary';

/** Where a request came from; carried into every audit event it causes. */
export interface AccessContext {
  requestId: string;
  sourceAddress?: string;
}

/**
 * What the policy reports for the audit trail: each decision, allowed or denied, and each
 * administration of the policy and of approvals. Ids, names and codes only, never a value.
 */
export interface PolicyAuditEvent {
  action: string;
  outcome: 'allowed' | 'denied';
  reason?: string;
  clientId: string;
  purpose?: string;
  scopes: string[];
  subjectId?: string;
  fields?: Record<string, FieldLevel>;
  policyVersion?: number;
  target?: string;
  requestId: string;
  sourceAddress?: string;
}

/**
 * THE place where auditing plugs into the policy (wired to the audit writer in src/cli).
 * `record` resolves only once the events are durably committed, and rejects (503
 * `audit_unavailable`) when they are not; the policy awaits it before it answers, so nothing is
 * revealed or changed without its event.
 */
export interface PolicyAuditHook {
  record(events: PolicyAuditEvent[]): Promise<void>;
}
