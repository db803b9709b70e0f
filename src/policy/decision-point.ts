import type { Principal } from '../identity/access-token';
import type { ClientStore } from '../store/clients';
import type { DataAction } from './actions';
import type { ApprovalService } from './approvals';
import type { AccessContext, PolicyAuditEvent, PolicyAuditHook } from './audit-hook';
import { denialError, type Allowed, type Decision, type SubjectFacts, type SubjectLookup } from './decision';
import { evaluate, subjectsChoiceRefuses, type CurrentGrants } from './evaluate';
import type { PolicyCatalogue } from './policy-catalogue';
import type { PreferenceDefaults } from './preferences';

/**
 * THE decision point: every data route asks here, and nowhere else, whether its caller may do
 * what it asks and which fields it sees at which level. Each decision, allowed or denied, is
 * committed to the audit trail before it is returned, so a caller that reveals what an
 * allowed decision permits has its audit event already; when the trail cannot be written the
 * call rejects with 503 `audit_unavailable` and the caller reveals nothing.
 */
export class DecisionPoint {
  constructor(
    private readonly catalogue: PolicyCatalogue,
    private readonly clients: ClientStore,
    private readonly approvals: ApprovalService,
    private readonly defaults: PreferenceDefaults,
    private readonly audit: PolicyAuditHook,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * `subject` is null for actions on no existing subject (creating one, searching). `fields`
   * names every personal field the action would read or write (see DATA_ACTIONS for how each
   * action uses them). Denials come back as decisions; `assertAllowed` turns one into its 403.
   */
  async decide(principal: Principal, action: DataAction, subject: SubjectLookup, fields: readonly string[], context: AccessContext): Promise<Decision> {
    const [decision] = await this.decideEach(principal, action, [subject], fields, context);
    return decision!;
  }

  /** One decision per subject (a batch, e.g. resolving thousands of addresses), audited in one append. */
  async decideEach(
    principal: Principal,
    action: DataAction,
    subjects: readonly SubjectLookup[],
    fields: readonly string[],
    context: AccessContext,
  ): Promise<Decision[]> {
    const policy = await this.catalogue.current();
    // The token check of this very request read the grants already; ask again only without it.
    const grants = principal.currentGrants ?? (await this.grantsOf(principal.clientId));
    const decisions: Decision[] = [];
    for (const lookup of subjects) {
      const subject = lookup && 'missing' in lookup ? null : lookup;
      const { decision, needsApproval } = evaluate({
        policy: policy.document,
        policyVersion: policy.version,
        principal,
        grants,
        action,
        subject,
        fields,
        defaults: this.defaults,
        now: this.now(),
      });
      if (decision.allowed && needsApproval) {
        // Only a request every other rule allows uses an approval up.
        const approvalId = await this.approvals.consume(principal.clientId, subject!.id, context.requestId);
        decisions.push(approvalId ? { ...decision, approvalId } : { ...decision, allowed: false, reason: 'approval_required' });
      } else decisions.push(decision);
    }
    await this.audit.record(decisions.map((decision, i) => auditEventOf(decision, subjects[i]!, principal, context)));
    return decisions;
  }

  /**
   * Allowed actions that then did not happen, refused for a reason of the vault's own (a stale
   * ETag, a taken external id, no address on file): each recorded after its decision as denied
   * with `reason` (`not_done:<code>`), in the same request, so the trail does not leave it looking
   * done. An approval such a decision used up is given back, and its event names it: no
   * disclosure was made under it.
   */
  async recordNotDone(principal: Principal, decisions: readonly Allowed[], reason: string, context: AccessContext): Promise<void> {
    const events = decisions.map((decision) => {
      const event = auditEventOf(decision, decision.subjectId === undefined ? null : { id: decision.subjectId }, principal, context);
      event.outcome = 'denied';
      event.reason = reason;
      return event;
    });
    await this.audit.record(events);
    for (const decision of decisions) {
      // Given back after the event naming it is committed. Should that fail, the approval stays
      // used up (as before the disclosure was found impossible) and the answer stands.
      if (decision.approvalId) await this.approvals.release(decision.approvalId, context.requestId).catch(() => false);
    }
  }

  /**
   * For a write decided on a row read before its lock: a check, to run under the lock, that the
   * subject's choices as they stand there still let the decision's purpose act on it (an opt-out
   * may have committed in between). Prepared outside the transaction, since the policy may need
   * reading; the check does no I/O and records nothing: its 403 is the write's refusal, which the
   * write records as not done.
   */
  async choicesCheck(decision: Allowed): Promise<(subject: SubjectFacts) => void> {
    const policy = (await this.catalogue.current()).document;
    const purpose = decision.purpose;
    const rule = purpose !== undefined && Object.hasOwn(policy.purposes, purpose) ? policy.purposes[purpose] : undefined;
    return (subject) => {
      const reason = rule ? subjectsChoiceRefuses(rule, subject.preferences, this.defaults) : 'purpose_not_granted';
      if (reason) throw denialError({ ...decision, allowed: false, reason });
    };
  }

  private async grantsOf(clientId: string): Promise<CurrentGrants | undefined> {
    const client = await this.clients.find(clientId);
    return client && { scopes: client.scopes, purposes: client.purposes, enabled: client.enabled, expiresAt: client.expiresAt };
  }
}

function auditEventOf(decision: Decision, lookup: SubjectLookup, principal: Principal, context: AccessContext): PolicyAuditEvent {
  // A lookup of a subject that does not exist discloses nothing; the trail keeps the id asked for.
  const notFound = lookup !== null && 'missing' in lookup;
  return {
    action: decision.action,
    outcome: decision.allowed ? 'allowed' : 'denied',
    reason: decision.allowed ? (notFound ? 'not_found' : undefined) : decision.reason,
    clientId: principal.clientId,
    purpose: principal.purpose,
    scopes: principal.scopes,
    subjectId: decision.subjectId ?? (notFound ? (lookup.missing ?? undefined) : undefined),
    fields: notFound && decision.allowed ? {} : decision.fields,
    policyVersion: decision.policyVersion,
    target: decision.allowed ? decision.approvalId : undefined,
    requestId: context.requestId,
    sourceAddress: context.sourceAddress,
  };
}
