import { insufficientScopeChallenge, VaultError } from '../errors/vault-error';
import { DATA_ACTIONS, levelServes, type ActionRule, type DataAction, type FieldMode } from './actions';
import { RECORD_FIELDS, type DenialReason, type FieldLevel, type SubjectReference } from './vocabulary';

/** The subject as the decision needs it: its id and the preferences stored with it. */
export interface SubjectFacts {
  id: string;
  /** The subject's stored choices (only what it set); defaults fill the rest. */
  preferences?: Readonly<Record<string, unknown>>;
}

/**
 * A subject looked up and not found: decided like no subject, audited as a lookup that found
 * nothing, with the id asked for when it is well-formed (a malformed one is the caller's text,
 * which may be anything, and stays out of the trail, as does one that holds a number: see
 * `holdsNumber`).
 */
export interface MissingSubject {
  missing: string | null;
}

/** What an action is about: an existing subject, one looked up and not found, or none (a creation, a search). */
export type SubjectLookup = SubjectFacts | MissingSubject | null;

interface DecisionBase {
  action: DataAction;
  purpose?: string;
  policyVersion: number;
  subjectId?: string;
  /** Every field asked about, with the level it is revealed at (`absent`: not at all). */
  fields: Record<string, FieldLevel>;
}

export interface Allowed extends DecisionBase {
  allowed: true;
  /** How the response names the subject: its id, or a pseudonym (analytics). */
  subjectReference: SubjectReference;
  /** The break-glass approval this decision used up, if any. */
  approvalId?: string;
}

export interface Denied extends DecisionBase {
  allowed: false;
  reason: DenialReason;
}

export type Decision = Allowed | Denied;

const TITLES: Record<DenialReason, string> = {
  insufficient_scope: 'The access token lacks the scope this action requires',
  purpose_not_granted: 'The purpose of the access token is not granted for this',
  grant_expired: 'The client\'s grant has expired',
  field_not_allowed: 'The purpose of the access token does not allow these fields',
  subject_opted_out: 'The subject has unsubscribed from this purpose',
  subject_not_subscribed: 'The subject has never subscribed to this purpose, and subscription is opt-in',
  sharing_not_consented: 'The subject has not consented to sharing with partners',
  approval_required: 'This purpose requires an approved break-glass approval for the subject',
  pseudonymous_purpose: 'The purpose of the access token knows subjects only by pseudonym and cannot create one',
  not_record_owner: "Only the record's owner may do this",
};

// What a caller refused so can do about it; names only the vault's own vocabulary, never a value.
const DETAILS = {
  purpose_not_granted: (decision: Denied) =>
    `The client is not granted the purpose ${decision.purpose ?? '(none)'}, or the policy in force (version ${decision.policyVersion}) gives that purpose no rule; an administrator grants purposes (PATCH /v1/admin/clients/{id}) and sets the policy (PUT /v1/admin/policy)`,
  approval_required: (decision: Denied) => {
    const mode = DATA_ACTIONS[decision.action].fieldMode;
    return mode === 'read' || mode === 'reveal'
      ? `The purpose ${decision.purpose ?? '(none)'} discloses a subject only under an approval for this client and subject, asked for with POST /v1/admin/approvals and approved by a second administrator; each is used up by one disclosure`
      : `An approval is for a disclosure about one subject; ${decision.action} is none, and no approval allows it to the purpose ${decision.purpose ?? '(none)'}`;
  },
};

/** A 403 the decision point made, and so already recorded in the audit trail. */
export class PolicyDenial extends VaultError {}

/** The 403 a denied decision becomes; its `code` is the stable reason. */
export function denialError(decision: Denied): VaultError {
  if (decision.reason === 'field_not_allowed') return new PolicyDenial(decision.reason, 403, TITLES[decision.reason], { detail: fieldsShortOf(decision) });
  if (decision.reason === 'not_record_owner') {
    return new PolicyDenial(decision.reason, 403, TITLES[decision.reason], {
      detail: `${decision.action} is for the record's owner, a purpose that sees ${RECORD_FIELDS.join(', ')} in plain on no condition, naming subjects by their id; ${decision.purpose ?? '(no purpose)'} is not`,
    });
  }
  if (decision.reason === 'purpose_not_granted' || decision.reason === 'approval_required') {
    return new PolicyDenial(decision.reason, 403, TITLES[decision.reason], { detail: DETAILS[decision.reason](decision) });
  }
  if (decision.reason !== 'insufficient_scope') return new PolicyDenial(decision.reason, 403, TITLES[decision.reason]);
  // As the route-level scope check answers (RFC 6750 §3.1): the challenge names the scope.
  const scope = DATA_ACTIONS[decision.action].scope;
  return new PolicyDenial(decision.reason, 403, TITLES[decision.reason], {
    detail: `Requires scope ${scope}`,
    headers: insufficientScopeChallenge(scope),
  });
}

/** Which fields fell short of what the action needs, by name and level (no value is involved). */
function fieldsShortOf(decision: Denied): string {
  const rule: ActionRule = DATA_ACTIONS[decision.action];
  const decided = Object.entries(decision.fields).filter(([field]) => !rule.alongside?.includes(field));
  const mode = rule.fieldMode;
  const short = mode === 'owner' ? decided : decided.filter(([, level]) => !levelServes(mode, level));
  const needs: Record<FieldMode, string> = {
    // Not reached: an owner's action refused is not_record_owner, with its own detail.
    owner: "the record's owner",
    reveal: 'each field in plain',
    write: `to see each field it ${rule.uses ?? 'writes'}, masked or plain`,
    read: 'to see at least one of them',
  };
  return `The purpose ${decision.purpose ?? '(none)'} sees ${short.map(([field, level]) => `${field} ${level}`).join(', ')}; ${decision.action} needs ${needs[rule.fieldMode]}`;
}

/**
 * Refused because of the subject's own choices (an opt-out, no sharing consent), not because of
 * who asks: where an action spans many subjects (a search, a batch), that subject is left out or
 * answered on its own, and the others are not refused with it.
 */
export const refusedBySubject = (decision: Decision): boolean =>
  !decision.allowed && (decision.reason === 'subject_opted_out' || decision.reason === 'subject_not_subscribed' || decision.reason === 'sharing_not_consented');

/** Returns the decision when allowed; throws its 403 otherwise. */
export function assertAllowed(decision: Decision): Allowed {
  if (!decision.allowed) throw denialError(decision);
  return decision;
}
