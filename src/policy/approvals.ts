import crypto from 'node:crypto';
import { VaultError, type FieldProblem } from '../errors/vault-error';
import type { ApprovalStore, StoredApproval } from '../store/approvals';
import type { ClientStore } from '../store/clients';
import type { CredentialLineage } from '../store/credential-lineage';
import type { SubjectStore } from '../store/subjects';
import type { AccessContext, PolicyAuditHook } from './audit-hook';
import { holdsNumber } from '../observability/planted-numbers';

export const APPROVAL_ID_PATTERN = /^apr_[A-Za-z0-9_-]{22}$/;
/** Subject ids are opaque and prefixed; the vault's data routes define the exact form. */
export const SUBJECT_ID_PATTERN = /^sub_[A-Za-z0-9_-]{1,64}$/;
const BREAK_GLASS_PURPOSE = 'legal_disclosure';
const JUSTIFICATION_LENGTH = { min: 10, max: 2000 };

export interface ApprovalRequest {
  subjectId: string;
  clientId: string;
  justification: string;
  expiresAt: Date;
}

export interface ApprovalActor {
  clientId: string;
  scopes: string[];
}

export type ApprovalState = 'pending' | 'approved' | 'used' | 'expired';

/** An approval as administrators see it. */
export interface ApprovalView {
  approval_id: string;
  state: ApprovalState;
  subject_id: string;
  client_id: string;
  justification: string;
  expires_at: string;
  created_by: string;
  created_at: string;
  approved_by: string | null;
  approved_at: string | null;
  used_at: string | null;
}

/**
 * Break-glass approvals (DESIGN.md: `legal_disclosure` needs a justification and a second
 * admin's approval). One admin client creates an approval naming the subject, the data client
 * that will use it and an expiry; a different admin client approves it; the decision point
 * uses it up on the first disclosure. Every step is audited.
 */
export class ApprovalService {
  constructor(
    private readonly store: ApprovalStore,
    private readonly clients: ClientStore,
    private readonly subjects: Pick<SubjectStore, 'find'>,
    private readonly settings: { approvalMaxLifetimeHours: number },
    private readonly audit: PolicyAuditHook,
    private readonly lineage: Pick<CredentialLineage, 'oneCanActAsBoth'>,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async create(request: ApprovalRequest, actor: ApprovalActor, context: AccessContext): Promise<ApprovalView> {
    const event = auditBase('approval.create', actor, context, request.subjectId);
    try {
      await this.check(request);
    } catch (error) {
      if (error instanceof VaultError) await this.audit.record([{ ...event, outcome: 'denied', reason: error.code }]);
      throw error;
    }
    const approval = await this.store.insert({ id: newApprovalId(), ...request, createdBy: actor.clientId });
    await this.audit.record([{ ...event, outcome: 'allowed', target: approval.id }]);
    return this.view(approval);
  }

  async approve(id: string, actor: ApprovalActor, context: AccessContext): Promise<ApprovalView> {
    const current = await this.existing(id);
    const event = { ...auditBase('approval.approve', actor, context, current.subjectId), target: current.id };
    const refuse = async (error: VaultError) => {
      await this.audit.record([{ ...event, outcome: 'denied', reason: error.code }]);
      return error;
    };
    if (current.createdBy === actor.clientId) {
      throw await refuse(new VaultError('second_approver_required', 403, 'An approval must be approved by a different admin client than the one that created it'));
    }
    // A client registered (or given a secret) through the other, or both through a third, is one pair of eyes.
    if (await this.lineage.oneCanActAsBoth(current.createdBy, actor.clientId)) throw await refuse(notIndependent());
    if (current.approvedAt) throw await refuse(new VaultError('approval_already_approved', 409, 'This approval has already been approved'));
    if (current.expiresAt.getTime() <= this.now().getTime()) throw await refuse(new VaultError('approval_expired', 409, 'This approval has expired'));
    // Erased since it was asked for: approved, it would stand as a disclosure allowed of no one.
    if (!(await this.subjects.find(current.subjectId))) {
      throw await refuse(new VaultError('approval_subject_erased', 409, 'The subject this approval names has been erased; there is nothing left to disclose'));
    }
    const approved = await this.store.approve(id, actor.clientId);
    // Lost a race with another approver, or it expired in between.
    if (!approved) throw await refuse(new VaultError('approval_already_approved', 409, 'This approval is no longer pending'));
    await this.audit.record([{ ...event, outcome: 'allowed' }]);
    return this.view(approved);
  }

  async get(id: string): Promise<ApprovalView> {
    return this.view(await this.existing(id));
  }

  async list(limit = 200): Promise<ApprovalView[]> {
    return (await this.store.list(limit)).map((approval) => this.view(approval));
  }

  /** Uses up one approved, unexpired approval for this client and subject; its id, or undefined. */
  async consume(clientId: string, subjectId: string, requestId: string): Promise<string | undefined> {
    return this.store.consume(clientId, subjectId, requestId);
  }

  /**
   * Gives back an approval the request used up for a disclosure that then did not happen (the
   * subject has no address on file, say): the approval was for a disclosure, and none was made.
   */
  async release(id: string, requestId: string): Promise<boolean> {
    return this.store.release(id, requestId);
  }

  private async check(request: ApprovalRequest): Promise<void> {
    const problems: FieldProblem[] = [];
    const problem = (pointer: string, detail: string) => problems.push({ pointer, detail });
    const now = this.now().getTime();
    const latest = now + this.settings.approvalMaxLifetimeHours * 3600_000;
    if (!SUBJECT_ID_PATTERN.test(request.subjectId)) problem('/subject_id', 'Not a subject id');
    // An approval for nobody would sit pending and usable until it expires: an id mistyped, or
    // one a subject is given only later, is refused now rather than found out at disclosure.
    else if (!(await this.subjects.find(request.subjectId))) problem('/subject_id', 'No such subject');
    const length = [...request.justification.trim()].length;
    if (length < JUSTIFICATION_LENGTH.min || length > JUSTIFICATION_LENGTH.max) {
      problem('/justification', `A justification is ${JUSTIFICATION_LENGTH.min} to ${JUSTIFICATION_LENGTH.max} characters`);
    }
    if (request.expiresAt.getTime() <= now) problem('/expires_at', 'The expiry must be in the future');
    if (request.expiresAt.getTime() > latest) problem('/expires_at', `An approval lasts at most ${this.settings.approvalMaxLifetimeHours} hours`);
    const client = await this.clients.find(request.clientId);
    if (!client || !client.purposes.includes(BREAK_GLASS_PURPOSE)) {
      problem('/client_id', `Not a client granted the ${BREAK_GLASS_PURPOSE} purpose`);
    }
    if (problems.length) throw new VaultError('invalid_approval', 400, 'The approval is not valid', { errors: problems });
  }

  private async existing(id: string): Promise<StoredApproval> {
    const approval = APPROVAL_ID_PATTERN.test(id) ? await this.store.find(id) : undefined;
    if (!approval) throw new VaultError('approval_not_found', 404, 'No such approval');
    return approval;
  }

  private view(approval: StoredApproval): ApprovalView {
    const iso = (date: Date | null) => (date ? date.toISOString() : null);
    const expired = approval.expiresAt.getTime() <= this.now().getTime();
    const state: ApprovalState = approval.usedAt ? 'used' : expired ? 'expired' : approval.approvedAt ? 'approved' : 'pending';
    return {
      approval_id: approval.id,
      state,
      subject_id: approval.subjectId,
      client_id: approval.clientId,
      justification: approval.justification,
      expires_at: approval.expiresAt.toISOString(),
      created_by: approval.createdBy,
      created_at: approval.createdAt.toISOString(),
      approved_by: approval.approvedBy,
      approved_at: iso(approval.approvedAt),
      used_at: iso(approval.usedAt),
    };
  }
}

/** The refusal when the two admin clients of a two-person rule are, in effect, one. */
export const notIndependent = () =>
  new VaultError(
    'second_approver_required',
    403,
    'The approving admin client is not independent of the requesting one: one was registered, or given its secret, through the other, or both through a third (directly or through clients it was)',
  );

const newApprovalId = () => `apr_${crypto.randomBytes(16).toString('base64url')}`;

const auditBase = (action: string, actor: ApprovalActor, context: AccessContext, subjectId: string) => ({
  action,
  clientId: actor.clientId,
  scopes: actor.scopes,
  // Only a well-formed id goes into the trail; a malformed one could be anything, a value included.
  subjectId: SUBJECT_ID_PATTERN.test(subjectId) && !holdsNumber(subjectId) ? subjectId : undefined,
  requestId: context.requestId,
  sourceAddress: context.sourceAddress,
});
