import type { Knex } from 'knex';
import type { Sealed } from '../crypto/sealed';
import { SEALED_SUBJECT_FIELDS, type SealedSubjectField } from './subjects';

export interface SealedSubject {
  id: string;
  sealed: Partial<Record<SealedSubjectField, Sealed>>;
  cards: Array<{ token: string; card: Sealed }>;
}

/** The SQL of a subject-key rotation: every ciphertext of one subject, read locked and written back. */
export class SubjectRekeyStore {
  constructor(private readonly db: Knex) {}

  /** The subject's ciphertexts, its row locked for the rest of `trx`; undefined when it does not exist. */
  async lock(trx: Knex.Transaction, subjectId: string): Promise<SealedSubject | undefined> {
    const row = await trx('subjects').select('id', ...SEALED_SUBJECT_FIELDS).where({ id: subjectId }).forUpdate().first();
    if (!row) return undefined;
    const sealed: SealedSubject['sealed'] = {};
    for (const field of SEALED_SUBJECT_FIELDS) if (row[field]) sealed[field] = row[field] as Sealed;
    const cards = await trx('payment_methods').select('token', 'card').where({ subject_id: subjectId }).forUpdate();
    return { id: row.id, sealed, cards: cards.map((c: { token: string; card: Buffer }) => ({ token: c.token, card: c.card as Sealed })) };
  }

  /** Writes the re-encrypted ciphertexts; the subject's version does not change (its content did not). */
  async write(trx: Knex.Transaction, subject: SealedSubject): Promise<void> {
    if (Object.keys(subject.sealed).length > 0) await trx('subjects').where({ id: subject.id }).update(subject.sealed);
    for (const card of subject.cards) await trx('payment_methods').where({ token: card.token }).update({ card: card.card });
  }

  async exists(subjectId: string, db: Knex = this.db): Promise<boolean> {
    return (await db('subjects').select('id').where({ id: subjectId }).first()) !== undefined;
  }
}
