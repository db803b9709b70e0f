import type { Principal } from '../identity/access-token';
import { DATA_ACTIONS, levelServes, type ActionRule, type DataAction } from './actions';
import type { Decision, SubjectFacts } from './decision';
import { ownsRecord, type PolicyDocument, type PurposeRule } from './policy-document';
import { effectivePreferences, type PreferenceDefaults } from './preferences';
import { atMost, isField, RECORD_FIELDS, type DenialReason, type Field, type FieldLevel } from './vocabulary';

/** The client's grants as they stand now (they may have changed since the token was issued). */
export interface CurrentGrants {
  scopes: readonly string[];
  purposes: readonly string[];
  enabled: boolean;
  expiresAt: Date | null;
}

export interface Evaluation {
  policy: PolicyDocument;
  policyVersion: number;
  principal: Principal;
  /** Undefined when the client no longer exists. */
  grants: CurrentGrants | undefined;
  action: DataAction;
  subject: SubjectFacts | null;
  fields: readonly string[];
  defaults: PreferenceDefaults;
  now: Date;
}

/**
 * The decision, without side effects: every rule is checked and the first denial in a fixed
 * order wins over any allowance (deny wins). A break-glass purpose comes back allowed with
 * `needsApproval`; the caller must then find and use up an approval, or deny.
 */
export function evaluate(input: Evaluation): { decision: Decision; needsApproval: boolean } {
  const { policy, policyVersion, principal, grants, action, subject, now } = input;
  const rule = DATA_ACTIONS[action];
  const purpose = principal.purpose;
  const purposeRule = purpose !== undefined && Object.hasOwn(policy.purposes, purpose) ? policy.purposes[purpose] : undefined;
  const fields: Record<string, FieldLevel> = {};
  // An owner's action is decided on the whole record, whatever fields the caller names.
  for (const field of rule.fieldMode === 'owner' ? RECORD_FIELDS : input.fields) {
    if (!isField(field)) throw new Error(`decide() was asked about an unknown field: ${field}`);
    fields[field] = purposeRule?.fields[field] ?? 'absent';
  }
  const subjectId = subject?.id;
  // Decisions are written out member by member: a spread with members added after it takes a
  // slow path in this V8, microseconds a decision, and a batch makes a thousand of them.
  const deny = (reason: DenialReason) => ({ decision: { action, purpose, policyVersion, subjectId, fields, allowed: false as const, reason }, needsApproval: false });

  if (!principal.scopes.includes(rule.scope) || (grants && !grants.scopes.includes(rule.scope))) return deny('insufficient_scope');
  if (!grants || !grants.enabled || purpose === undefined || !grants.purposes.includes(purpose) || !purposeRule) return deny('purpose_not_granted');
  if (grants.expiresAt && grants.expiresAt.getTime() <= now.getTime()) return deny('grant_expired');

  // A creation answers with the new subject's id (and its Location): a purpose that knows
  // subjects only by pseudonym never learns ids, and could not address what it made, whatever
  // fields it would have written.
  if ((action === 'subjects.create' || action === 'subjects.replay') && purposeRule.subject_reference === 'pseudonym') return deny('pseudonymous_purpose');

  const alongside = (rule as ActionRule).alongside;
  const levels = alongside ? Object.keys(fields).filter((field) => !alongside.includes(field)).map((field) => fields[field]!) : Object.values(fields);
  if ((rule.fieldMode === 'owner' || (rule as ActionRule).ownerOnly) && !ownsRecord(purposeRule)) return deny('not_record_owner');
  const mode = rule.fieldMode;
  if ((mode === 'reveal' || mode === 'write') && !levels.every((level) => levelServes(mode, level))) return deny('field_not_allowed');
  if (mode === 'read' && levels.length > 0 && !levels.some((level) => levelServes(mode, level))) return deny('field_not_allowed');

  // Subscriptions and sharing consent hold for every use a purpose makes of a subject: one the
  // subject opted out of neither reads it, nor finds it by email, nor changes it (a partner
  // purpose that could write the email could redirect the account's own mail). The owner's
  // actions carry no conditions (ownsRecord), so the subject's own changes are never refused so.
  const discloses = rule.fieldMode === 'read' || rule.fieldMode === 'reveal';
  const needsApproval = (purposeRule.conditions ?? []).some((condition) => condition.type === 'approval');
  // An approval is for a disclosure about one subject: nothing else (a search, a write) uses one
  // up. Refused before the subject's choices are looked at, so the refusal tells nothing of them.
  if (needsApproval && (!subject || !discloses)) return deny('approval_required');
  const refusedByChoice = subject ? subjectsChoiceRefuses(purposeRule, subject.preferences, input.defaults) : undefined;
  if (refusedByChoice) return deny(refusedByChoice);
  return { decision: { action, purpose, policyVersion, subjectId, fields: shownBy(rule, fields), allowed: true, subjectReference: purposeRule.subject_reference ?? 'id' }, needsApproval };
}

/**
 * The subject's own choices that keep a purpose away from it (an opt-out from its category, no
 * consent to sharing), as a denial reason; undefined when they let it act.
 */
export function subjectsChoiceRefuses(rule: PurposeRule, stored: SubjectFacts['preferences'] | undefined, defaults: PreferenceDefaults): DenialReason | undefined {
  const preferences = effectivePreferences(stored, defaults);
  for (const condition of rule.conditions ?? []) {
    // Unsubscribed by the subject's own choice, or never subscribed where subscription is opt-in
    // (PDVAULT_DEFAULT_SUBSCRIBED=false): the trail, and the subject's export, say which.
    if (condition.type === 'subscribed' && !preferences[condition.category]) return typeof stored?.[condition.category] === 'boolean' ? 'subject_opted_out' : 'subject_not_subscribed';
    if (condition.type === 'sharing_consent' && !preferences.share_with_partners) return 'sharing_not_consented';
  }
  return undefined;
}

/**
 * What an allowed action shows of each field, and so what its decision and audit event record:
 * nothing for an owner's action, and no more than the action itself shows where it masks a
 * field (a card listing shows it masked even to a purpose that may reveal it).
 */
function shownBy(rule: ActionRule, fields: Record<string, FieldLevel>): Record<string, FieldLevel> {
  if (rule.fieldMode === 'owner') return {};
  const cap = rule.shownAtMost;
  if (!cap) return fields;
  const shown: Record<string, FieldLevel> = {};
  for (const field of Object.keys(fields)) shown[field] = atMost(fields[field]!, cap[field as Field]);
  return shown;
}
