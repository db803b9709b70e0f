import { echoedName, VaultError, type FieldProblem } from '../errors/vault-error';
import { isPurpose } from '../identity/purposes';
import {
  isField,
  LEVELS_BY_FIELD,
  RECORD_FIELDS,
  REVEAL_LEVELS,
  SUBJECT_REFERENCES,
  SUBSCRIPTION_CATEGORIES,
  type Field,
  type FieldLevel,
  type SubjectReference,
  type SubscriptionCategory,
} from './vocabulary';

/** A condition a purpose carries; each names the denial it causes when it does not hold. */
export type Condition =
  /** The subject has not unsubscribed from this category (else `subject_opted_out`). */
  | { type: 'subscribed'; category: SubscriptionCategory }
  /** The subject opted in to sharing with partners (else `sharing_not_consented`). */
  | { type: 'sharing_consent' }
  /** Break-glass: an approval by a second administrator (else `approval_required`). */
  | { type: 'approval' };

export interface PurposeRule {
  description?: string;
  fields: Partial<Record<Field, FieldLevel>>;
  conditions?: Condition[];
  subject_reference?: SubjectReference;
}

/** The purpose catalogue, exactly as GET/PUT /v1/admin/policy carry it. */
export interface PolicyDocument {
  purposes: Record<string, PurposeRule>;
}

const LEVEL_WORDS: readonly string[] = [...REVEAL_LEVELS, 'absent'];
const MAX_DESCRIPTION = 500;
const MAX_CONDITIONS = 8;
const ALWAYS_ALLOWED = 'transactional_email is always allowed (account messages cannot be unsubscribed)';

/**
 * Validates a policy document an administrator sends and returns it normalised. Every problem
 * is reported at once, each with a JSON Pointer to the offending member, so an administrator
 * fixes a document in one round trip.
 */
export function parsePolicyDocument(input: unknown): PolicyDocument {
  return parse(input, true);
}

/**
 * A version read back from the store: checked as when it was stored, except for the rules that
 * came later (transactional mail is always allowed, checkAlwaysAllowed; a description is plain
 * text). A version stored before them still decides, rather than every request failing until an
 * administrator replaces it.
 */
export function parseStoredPolicyDocument(input: unknown): PolicyDocument {
  return parse(input, false);
}

function parse(input: unknown, replacement: boolean): PolicyDocument {
  const problems: FieldProblem[] = [];
  const problem = (pointer: string, detail: string) => problems.push({ pointer, detail });
  const purposes: Record<string, PurposeRule> = {};

  if (!isObject(input)) {
    problem('', 'A policy is a JSON object');
  } else {
    unknownMembers(input, ['purposes'], '', problem);
    if (!isObject(input.purposes)) problem('/purposes', 'purposes is an object of purpose name to rule');
    else {
      for (const [name, rule] of Object.entries(input.purposes)) {
        const at = `/purposes/${escape(name)}`;
        if (!isPurpose(name)) problem(at, 'Unknown purpose');
        else {
          const parsed = parsePurpose(name, rule, at, problem, replacement);
          if (parsed) purposes[name] = parsed;
        }
      }
      if (replacement) checkAlwaysAllowed(input.purposes, purposes, problem);
      if (replacement) checkRecordOwned(purposes, problem);
    }
  }
  if (problems.length) throw new VaultError('invalid_policy', 400, 'The policy is not valid', { errors: problems });
  return { purposes };
}

function parsePurpose(name: string, input: unknown, at: string, problem: (pointer: string, detail: string) => void, replacement: boolean): PurposeRule | undefined {
  if (!isObject(input)) {
    problem(at, 'A purpose rule is an object with fields, and optionally conditions, subject_reference and description');
    return undefined;
  }
  unknownMembers(input, ['description', 'fields', 'conditions', 'subject_reference'], at, problem);
  const rule: PurposeRule = { fields: {} };

  if (input.description !== undefined) {
    // Characters by code point, as openapi's maxLength counts them.
    if (typeof input.description !== 'string' || [...input.description].length > MAX_DESCRIPTION) {
      problem(`${at}/description`, `A description is a string of at most ${MAX_DESCRIPTION} characters`);
    } else if (replacement && !PLAIN_TEXT.test(input.description)) {
      // Only for a replacement: a version stored before this rule still decides.
      problem(`${at}/description`, 'A description is plain text: letters, digits, punctuation, symbols, spaces and line breaks');
    } else rule.description = input.description;
  }

  if (!isObject(input.fields)) problem(`${at}/fields`, 'fields is an object of field name to reveal level');
  else {
    for (const [field, level] of Object.entries(input.fields)) {
      const fieldAt = `${at}/fields/${escape(field)}`;
      if (!isField(field)) problem(fieldAt, 'Unknown field');
      else if (typeof level !== 'string' || !LEVEL_WORDS.includes(level)) {
        problem(fieldAt, `Unknown reveal level${echoedName(level)}; one of ${LEVEL_WORDS.join(', ')}`);
      } else if (level !== 'absent' && !(LEVELS_BY_FIELD[field] as readonly string[]).includes(level)) {
        problem(fieldAt, `${field} can be revealed only as ${LEVELS_BY_FIELD[field].join(', ')}`);
      } else rule.fields[field] = level as FieldLevel;
    }
  }

  if (input.conditions !== undefined) {
    if (!Array.isArray(input.conditions) || input.conditions.length > MAX_CONDITIONS) {
      problem(`${at}/conditions`, `conditions is an array of at most ${MAX_CONDITIONS} conditions`);
    } else {
      rule.conditions = input.conditions.flatMap((condition, index) => parseCondition(condition, `${at}/conditions/${index}`, problem) ?? []);
    }
  }

  if (input.subject_reference !== undefined) {
    if (!(SUBJECT_REFERENCES as readonly unknown[]).includes(input.subject_reference)) {
      problem(`${at}/subject_reference`, `subject_reference is one of ${SUBJECT_REFERENCES.join(', ')}`);
    } else rule.subject_reference = input.subject_reference as SubjectReference;
  }

  // Break-glass must stay break-glass: no edit may turn legal disclosure into an ordinary purpose.
  if (name === 'legal_disclosure' && !rule.conditions?.some((c) => c.type === 'approval')) {
    problem(`${at}/conditions`, 'legal_disclosure is break-glass: it keeps its approval condition');
  }
  checkPromises(name, rule, at, problem);
  return rule;
}

/**
 * What the vault promises subjects (the obligations table at the top of DESIGN.md) holds whatever the policy says:
 * account-transaction mail cannot be unsubscribed, so it carries no subscription condition; a
 * mailing category is sent only to its subscribers; data goes to a partner only with the
 * subject's opt-in to sharing.
 */
function checkPromises(name: string, rule: PurposeRule, at: string, problem: (pointer: string, detail: string) => void): void {
  const conditions = rule.conditions ?? [];
  if (name === 'transactional_email' && conditions.some((c) => c.type === 'subscribed')) {
    problem(`${at}/conditions`, 'transactional_email cannot be unsubscribed: it carries no subscribed condition');
  }
  if ((SUBSCRIPTION_CATEGORIES as readonly string[]).includes(name) && !conditions.some((c) => c.type === 'subscribed' && c.category === name)) {
    problem(`${at}/conditions`, `${name} is sent only to subscribers: it keeps its subscribed condition for ${name}`);
  }
  if (name === 'joint_promotion' && !conditions.some((c) => c.type === 'sharing_consent')) {
    problem(`${at}/conditions`, 'joint_promotion shares data with a partner: it keeps its sharing_consent condition');
  }
}

/**
 * Account messages are always sent (DESIGN.md: `transactional_email` is always allowed): a
 * replacement keeps the purpose, with the email in plain and no condition at all, not even a
 * sharing opt-in or an approval, either of which would withhold them from most subjects.
 */
function checkAlwaysAllowed(input: Record<string, unknown>, purposes: Record<string, PurposeRule>, problem: (pointer: string, detail: string) => void): void {
  const at = '/purposes/transactional_email';
  if (!('transactional_email' in input)) return problem(at, ALWAYS_ALLOWED);
  const rule = purposes.transactional_email;
  if (!rule) return;
  // A subscribed condition is refused by checkPromises already, in its own words.
  if (rule.conditions?.some((c) => c.type !== 'subscribed')) problem(`${at}/conditions`, `${ALWAYS_ALLOWED}: it carries no condition`);
  if (rule.fields.email !== 'plain') problem(`${at}/fields/email`, `${ALWAYS_ALLOWED}: it reveals the email in plain`);
}

/**
 * Whether a purpose owns the record: it sees every field of it in plain, on no condition. A
 * conditional purpose (a partner's, which the subject's consent opens, or a break-glass one)
 * never does, so it can neither erase the record nor open itself up by recording consent.
 */
export function ownsRecord(rule: PurposeRule): boolean {
  // Named by its id: a purpose that knows subjects only by pseudonym creates none (pseudonymous_purpose).
  return RECORD_FIELDS.every((field) => rule.fields[field] === 'plain') && (rule.conditions ?? []).length === 0 && rule.subject_reference !== 'pseudonym';
}

/** Erasure and consent need an owner: a replacement keeps a purpose that owns the record. */
function checkRecordOwned(purposes: Record<string, PurposeRule>, problem: (pointer: string, detail: string) => void): void {
  if (!Object.values(purposes).some(ownsRecord)) {
    problem('/purposes', `A policy keeps a purpose that owns the record, seeing ${RECORD_FIELDS.join(', ')} in plain on no condition, naming subjects by their id: only it may erase a subject or record consent`);
  }
}

function parseCondition(input: unknown, at: string, problem: (pointer: string, detail: string) => void): Condition | undefined {
  if (!isObject(input)) {
    problem(at, 'A condition is an object with a type');
    return undefined;
  }
  switch (input.type) {
    case 'subscribed':
      unknownMembers(input, ['type', 'category'], at, problem);
      if (!(SUBSCRIPTION_CATEGORIES as readonly unknown[]).includes(input.category)) {
        problem(`${at}/category`, `category is one of ${SUBSCRIPTION_CATEGORIES.join(', ')}`);
        return undefined;
      }
      return { type: 'subscribed', category: input.category as SubscriptionCategory };
    case 'sharing_consent':
    case 'approval':
      unknownMembers(input, ['type'], at, problem);
      return { type: input.type };
    default:
      problem(`${at}/type`, `Unknown condition type${echoedName(input.type)}; one of subscribed, sharing_consent, approval`);
      return undefined;
  }
}

function unknownMembers(input: Record<string, unknown>, known: string[], at: string, problem: (pointer: string, detail: string) => void): void {
  for (const key of Object.keys(input)) if (!known.includes(key)) problem(`${at}/${escape(key)}`, 'Unknown member');
}

// What administrators reviewing a policy read as written: no bidirectional overrides, invisible
// format characters or controls that make a description display as something else.
const PLAIN_TEXT = /^[\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}\r\n\t]*$/u;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const escape = (segment: string) => segment.replace(/~/g, '~0').replace(/\//g, '~1');
