import type { BlindIndex } from '../crypto/blind-index';
import type { KeyHierarchy } from '../crypto/key-hierarchy';
import type { Allowed } from '../policy/decision';
import { countryOf, maskEmail, maskPhone, maskPostalAddress, type MaskedAddress } from '../policy/masking';
import type { FieldLevel } from '../policy/vocabulary';
import type { SealedSubjectField, SubjectRecord } from '../store/subjects';
import type { PostalAddress } from './input/contact-rules';

/** A subject as one caller may see it: each field at the level its decision allows, or absent. */
export interface SubjectView {
  id?: string;
  pseudonym?: string;
  external_id?: string | null;
  email?: string;
  name?: string;
  phone?: string;
  postal_address?: PostalAddress | MaskedAddress | string;
  country?: string | null;
  birth_date?: string;
  version: number;
  created_at: string;
  updated_at: string;
}

/** The personal fields a subject read asks the policy about. */
export const SUBJECT_READ_FIELDS = ['email', 'name', 'phone', 'postal_address', 'country', 'birth_date'] as const;

type Mask = (plaintext: string) => unknown;
const MASKS: Record<SealedSubjectField, Mask | undefined> = {
  email: maskEmail,
  phone: maskPhone,
  postal_address: (json) => maskPostalAddress(JSON.parse(json) as PostalAddress),
  name: undefined,
  birth_date: undefined,
};

/** Plaintexts of fields this very request wrote: a write's answer shows them without opening them again. */
export type WrittenFields = Readonly<Partial<Record<SealedSubjectField, string>>>;

/**
 * Opens what the decision allows and nothing else: absent fields are never decrypted, `token`
 * fields become opaque references without decrypting, masked fields are decrypted only to be
 * masked here.
 */
export class SubjectRenderer {
  constructor(
    private readonly keys: KeyHierarchy,
    private readonly index: BlindIndex,
  ) {}

  async render(record: SubjectRecord, decision: Allowed, written: WrittenFields = {}): Promise<SubjectView> {
    const byId = decision.subjectReference === 'id';
    // Named members, not a spread with members after it (a slow path in this V8).
    const reference = byId ? { id: record.id, external_id: record.externalId } : { pseudonym: await this.index.reference('psn', record.id) };
    // Under a pseudonym, times to the millisecond would tie the record back to the account
    // created or changed at that moment: the day is given instead.
    const time = byId ? (at: Date) => at.toISOString() : (at: Date) => `${at.toISOString().slice(0, 10)}T00:00:00.000Z`;
    const view: SubjectView = Object.assign(reference, {
      version: record.version,
      created_at: time(record.createdAt),
      updated_at: time(record.updatedAt),
    });
    const levels = decision.fields;
    const out = view as unknown as Record<string, unknown>;
    for (const field of ['email', 'name', 'phone', 'postal_address', 'birth_date'] as const) {
      const value = await this.field(record, field, levels[field] ?? 'absent', written);
      if (value !== undefined) out[field] = value;
    }
    if (levels.country === 'plain' && levels.postal_address !== 'plain' && (written.postal_address !== undefined || record.sealed.postal_address)) {
      view.country = countryOf(JSON.parse(written.postal_address ?? (await this.open(record, 'postal_address'))) as PostalAddress);
    }
    return view;
  }

  private async field(record: SubjectRecord, field: SealedSubjectField, level: FieldLevel, written: WrittenFields): Promise<unknown> {
    // A field is there if it is stored, or if this very answer is made from what a request wrote.
    if (level === 'absent' || (written[field] === undefined && !record.sealed[field])) return undefined;
    if (level === 'token') return this.index.reference('tok', record.id, field);
    const plaintext = written[field] ?? (await this.open(record, field));
    if (level === 'masked') {
      const mask = MASKS[field];
      return mask ? mask(plaintext) : undefined;
    }
    return field === 'postal_address' ? JSON.parse(plaintext) : plaintext;
  }

  async open(record: SubjectRecord, field: SealedSubjectField): Promise<string> {
    return (await this.keys.open(record.id, field, record.sealed[field]!)).toString('utf8');
  }
}
