import { z } from 'zod';
import { VaultError } from '../../errors/vault-error';
import { PREFERENCE_NAMES, type PreferenceName } from '../../policy/preferences';
import { holdsCardNumber, ID_SEPARATORS } from './card-numbers';
import { email, phone, postalAddress } from './contact-rules';
import { invalid, parseInput } from './parse-input';
import { text } from './text-rules';
import { dayBegunEverywhere, dayBegunSomewhere } from './world-calendar';

/** The vault refuses to hold data about a child under this age (DESIGN.md, the source policy). */
export const MINIMUM_AGE_YEARS = 13;

/** Properties the vault sets; a caller sending one is trying to assign what it may not. */
const READ_ONLY = ['id', 'pseudonym', 'created_at', 'updated_at', 'version', 'etag', 'erased', 'subject_key'];

export type PreferencesInput = Partial<Record<PreferenceName, boolean>>;

export const preferences = z.strictObject(
  Object.fromEntries(PREFERENCE_NAMES.map((name) => [name, z.boolean({ error: `${name} must be true or false` }).optional()])) as Record<
    PreferenceName,
    z.ZodOptional<z.ZodBoolean>
  >,
  { error: (issue) => (issue.code === 'unrecognized_keys' ? 'unknown property' : 'preferences must be an object') },
);

const DATE_FORM = /^\d{4}-\d{2}-\d{2}$/;

const birthDate = z
  .string({ error: 'birth_date must be a string' })
  .refine((value) => DATE_FORM.test(value), 'birth_date must be a date in the form YYYY-MM-DD')
  .refine((value) => !DATE_FORM.test(value) || isCalendarDate(value), 'birth_date names a day the calendar does not have')
  .refine((value) => !isCalendarDate(value) || value <= dayBegunSomewhere(new Date()), 'birth_date must not be in the future')
  .refine((value) => !isCalendarDate(value) || value >= '1900-01-01', 'birth_date must not be before 1900');

const personalFields = {
  email,
  name: text(200, 'name'),
  phone,
  postal_address: postalAddress,
  birth_date: birthDate,
};

// The account's id in the caller's own terms: kept unsealed (it finds the record) and shown to
// every purpose that names subjects by id. So no `@`: an account keyed by its email address
// would put the address in clear, past every purpose's masking.
const externalId = z
  .string({ error: 'external_id must be a string' })
  .refine((value) => !value.includes('@'), {
    error: 'external_id is an opaque account id, not an email address: it is stored unsealed and shown to every purpose that sees subject ids',
    abort: true,
  })
  .regex(/^[A-Za-z0-9._:-]{1,128}$/, 'external_id must be 1–128 characters of letters, digits and . _ : -')
  // Nor a card number: one sent as the account's id would be kept and shown in clear.
  .refine((value) => !holdsCardNumber(value, ID_SEPARATORS), {
    error: 'external_id holds a card number (14 to 16 digits of a major network, or 17 to 19 in groups of four, that pass its check digit): it is stored unsealed; use an opaque account id',
  });

const createSchema = z.strictObject(
  {
    external_id: externalId.optional(),
    ...Object.fromEntries(Object.entries(personalFields).map(([k, v]) => [k, v.optional()])),
    preferences: preferences.optional(),
  } as { external_id: z.ZodOptional<typeof externalId> } & { [K in keyof typeof personalFields]: z.ZodOptional<(typeof personalFields)[K]> } & {
    preferences: z.ZodOptional<typeof preferences>;
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? 'unknown property' : 'the subject must be a JSON object') },
);

// PATCH follows JSON merge patch (RFC 7396): a property set to null removes that field.
const patchSchema = z.strictObject(
  {
    external_id: externalId.nullable().optional(),
    ...Object.fromEntries(Object.entries(personalFields).map(([k, v]) => [k, v.nullable().optional()])),
    preferences: preferences.optional(),
  } as { external_id: z.ZodOptional<z.ZodNullable<typeof externalId>> } & {
    [K in keyof typeof personalFields]: z.ZodOptional<z.ZodNullable<(typeof personalFields)[K]>>;
  } & { preferences: z.ZodOptional<typeof preferences> },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? 'unknown property' : 'the patch must be a JSON object') },
);

export type SubjectInput = z.output<typeof createSchema>;
export type SubjectPatch = z.output<typeof patchSchema>;
export type PersonalField = keyof typeof personalFields;
export const PERSONAL_FIELDS = Object.keys(personalFields) as PersonalField[];

export function parseSubjectInput(body: unknown): SubjectInput {
  refuseReadOnly(body);
  const input = parseInput(createSchema, body, 'subject');
  refuseChild(input.birth_date);
  return input;
}

export function parseSubjectPatch(body: unknown): SubjectPatch {
  refuseReadOnly(body);
  const patch = parseInput(patchSchema, body, 'patch');
  // An empty preferences object switches nothing; left in, it would bump the version for no change.
  if (patch.preferences !== undefined && Object.keys(patch.preferences).length === 0) delete patch.preferences;
  if (Object.keys(patch).length === 0) throw invalid('patch', [{ pointer: '', detail: 'the patch changes nothing' }]);
  refuseChild(patch.birth_date ?? undefined);
  return patch;
}

function refuseReadOnly(body: unknown): void {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return;
  const offending = READ_ONLY.filter((key) => Object.hasOwn(body, key));
  if (offending.length) {
    throw new VaultError('read_only_property', 422, 'The request sets properties the vault manages', {
      errors: offending.map((key) => ({ pointer: `/${key}`, detail: 'read-only property' })),
    });
  }
}

function refuseChild(birth: string | undefined): void {
  if (birth && isUnderMinimumAge(birth, new Date())) {
    throw new VaultError('subject_under_minimum_age', 422, `The vault holds no data about children under ${MINIMUM_AGE_YEARS}`, {
      errors: [{ pointer: '/birth_date', detail: `the subject is under ${MINIMUM_AGE_YEARS}` }],
    });
  }
}

export function ageInYears(birth: string, today: string): number {
  const [by, bm, bd] = birth.split('-').map(Number) as [number, number, number];
  const [ty, tm, td] = today.split('-').map(Number) as [number, number, number];
  return ty - by - (tm < bm || (tm === bm && td < bd) ? 1 : 0);
}

function isCalendarDate(value: string): boolean {
  if (!DATE_FORM.test(value)) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(value);
}

/**
 * Whether the subject is under 13 anywhere on earth at `now`: the 13th birthday counts once it
 * has begun in the last time zone to reach it (UTC−12). In the hours before, a subject whose day
 * has come is refused rather than a subject whose day has not accepted.
 */
export function isUnderMinimumAge(birth: string, now: Date): boolean {
  return ageInYears(birth, dayBegunEverywhere(now)) < MINIMUM_AGE_YEARS;
}
