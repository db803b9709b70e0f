import type { PolicySettings } from '../config/config';
import { ApprovalStore } from '../store/approvals';
import { ClientStore } from '../store/clients';
import { CredentialLineage } from '../store/credential-lineage';
import type { Database } from '../store/database';
import { PolicyVersionStore } from '../store/policy-versions';
import { SubjectStore } from '../store/subjects';
import { ApprovalService } from './approvals';
import type { PolicyAuditHook } from './audit-hook';
import { DecisionPoint } from './decision-point';
import { PolicyCatalogue } from './policy-catalogue';

/** Everything the rest of the vault uses of the policy. */
export interface Policy {
  /** decide(principal, action, subject, fields, context): the one decision point. */
  decisions: DecisionPoint;
  catalogue: PolicyCatalogue;
  approvals: ApprovalService;
}

export interface PolicyDependencies {
  db: Database;
  settings: PolicySettings;
  audit: PolicyAuditHook;
}

export function createPolicy({ db, settings, audit }: PolicyDependencies): Policy {
  const clients = new ClientStore(db);
  const catalogue = new PolicyCatalogue(new PolicyVersionStore(db), settings, audit);
  const approvals = new ApprovalService(new ApprovalStore(db), clients, new SubjectStore(db), settings, audit, new CredentialLineage(db));
  const decisions = new DecisionPoint(catalogue, clients, approvals, settings, audit);
  return { decisions, catalogue, approvals };
}
