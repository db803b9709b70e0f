/**
 * The words the policy is written in (DESIGN.md, "Purposes"). A policy document may use only
 * these; anything else is refused with the path that names it.
 */

/** Personal fields a purpose may see. `country` is the country of the postal address alone. */
export const FIELDS = ['email', 'name', 'phone', 'postal_address', 'country', 'birth_date', 'payment_method'] as const;
export type Field = (typeof FIELDS)[number];
export const isField = (value: string): value is Field => (FIELDS as readonly string[]).includes(value);

/**
 * The fields of a subject's record as it is kept. Its owner (the account service's purpose) sees
 * each in plain, on no condition: only the owner erases the record, and records and reads consent.
 */
export const RECORD_FIELDS: readonly Field[] = ['email', 'name', 'phone', 'postal_address', 'birth_date'];

/** How much of a field a purpose sees: all of it, a masked form, an opaque reference only. */
export const REVEAL_LEVELS = ['plain', 'masked', 'token'] as const;
export type RevealLevel = (typeof REVEAL_LEVELS)[number];
/** What a decision says about one field; `absent` means the field is not revealed at all. */
export type FieldLevel = RevealLevel | 'absent';

/** The levels that mean something for each field (a masked birth date or country does not). */
export const LEVELS_BY_FIELD: Record<Field, readonly RevealLevel[]> = {
  email: ['plain', 'masked', 'token'],
  name: ['plain', 'token'],
  phone: ['plain', 'masked', 'token'],
  postal_address: ['plain', 'masked', 'token'],
  country: ['plain'],
  birth_date: ['plain', 'token'],
  payment_method: ['plain', 'masked', 'token'],
};

/** Ordered from least to most revealing, so a requirement can say "at least masked". */
const RANK: Record<FieldLevel, number> = { absent: 0, token: 1, masked: 2, plain: 3 };
export const atLeast = (level: FieldLevel, minimum: FieldLevel) => RANK[level] >= RANK[minimum];
/** `level`, lowered to `cap` when it reveals more; unchanged without a cap. */
export const atMost = (level: FieldLevel, cap: FieldLevel | undefined): FieldLevel => (cap !== undefined && RANK[level] > RANK[cap] ? cap : level);

/** Mailing categories a subject can unsubscribe from (transactional mail is not one). */
export const SUBSCRIPTION_CATEGORIES = ['newsletter', 'promotions', 'surveys', 'partner_offers'] as const;
export type SubscriptionCategory = (typeof SUBSCRIPTION_CATEGORIES)[number];

/** How a purpose names the subject: by its id, or by a stable pseudonym (analytics). */
export const SUBJECT_REFERENCES = ['id', 'pseudonym'] as const;
export type SubjectReference = (typeof SUBJECT_REFERENCES)[number];

/** Stable reason codes of a denial; each is also the `code` of the 403 problem. */
export const DENIAL_REASONS = [
  'insufficient_scope',
  'purpose_not_granted',
  'grant_expired',
  'field_not_allowed',
  'subject_opted_out',
  'subject_not_subscribed',
  'sharing_not_consented',
  'approval_required',
  'pseudonymous_purpose',
  'not_record_owner',
] as const;
export type DenialReason = (typeof DENIAL_REASONS)[number];
