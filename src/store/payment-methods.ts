import type { Knex } from 'knex';
import type { Sealed } from '../crypto/sealed';

export interface PaymentMethodRecord {
  token: string;
  subjectId: string;
  /** The card number and holder name, sealed under the subject's key. */
  card: Sealed;
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
  fingerprint: Buffer;
  fingerprintVersion: number;
  createdAt: Date;
}

interface Row {
  token: string;
  subject_id: string;
  card: Buffer;
  brand: string;
  last4: string;
  exp_month: number;
  exp_year: number;
  fingerprint: Buffer;
  fingerprint_version: number;
  created_at: Date;
}

const toRecord = (row: Row): PaymentMethodRecord => ({
  token: row.token,
  subjectId: row.subject_id,
  card: row.card as Sealed,
  brand: row.brand,
  last4: row.last4,
  expMonth: row.exp_month,
  expYear: row.exp_year,
  fingerprint: row.fingerprint,
  fingerprintVersion: row.fingerprint_version,
  createdAt: row.created_at,
});

/** A card's contents sealed again under an existing token's binding, to replace what that token holds. */
export interface ResealedCard {
  token: string;
  card: Sealed;
}

/** The `payment_methods` table: tokenized cards, one row per distinct card per subject. */
export class PaymentMethodStore {
  constructor(private readonly db: Knex) {}

  /**
   * Brings `existing` (the subject's card with one of these fingerprints, as the caller found it
   * in `trx`) up to date, or inserts the card when there is none; returns the row that stands.
   */
  async insertOrKeep(
    record: Omit<PaymentMethodRecord, 'createdAt'>,
    existing: PaymentMethodRecord | undefined,
    knownFingerprints: ReadonlyArray<{ version: number; value: Buffer }>,
    trx: Knex.Transaction,
    resealed?: ResealedCard,
  ): Promise<{ record: PaymentMethodRecord; created: boolean }> {
    const kept = existing && (await this.keepNewer(existing, record, resealed, trx));
    // Removed meanwhile (a delete does not wait for the subject's lock): stored anew below.
    if (kept) return { record: kept, created: false };
    const [row] = await trx<Row>('payment_methods')
      .insert({
        token: record.token,
        subject_id: record.subjectId,
        card: record.card,
        brand: record.brand,
        last4: record.last4,
        exp_month: record.expMonth,
        exp_year: record.expYear,
        fingerprint: record.fingerprint,
        fingerprint_version: record.fingerprintVersion,
      })
      // A concurrent add of the same card committed first: its row stands, this one is dropped.
      .onConflict(['subject_id', 'fingerprint'])
      .ignore()
      .returning('*');
    if (row) return { record: toRecord(row as Row), created: true };
    const winner = await this.findByFingerprint(record.subjectId, knownFingerprints, trx);
    if (!winner) throw new Error('payment method fingerprint conflicts with no visible row');
    return { record: winner, created: false };
  }

  /**
   * The same card added again. With an expiry no earlier than the stored one it is the card as
   * it is now (a reissued card keeps its number): the expiry moves forward and, when the caller
   * sealed the contents again under the stored card's own token, they replace the stored ones
   * (a corrected holder name). An earlier expiry is a stale copy of the card: nothing changes.
   * Undefined when the card was removed since it was read.
   */
  private async keepNewer(
    existing: PaymentMethodRecord,
    added: Pick<PaymentMethodRecord, 'expMonth' | 'expYear'>,
    resealed: ResealedCard | undefined,
    trx: Knex.Transaction,
  ): Promise<PaymentMethodRecord | undefined> {
    const months = (expiry: Pick<PaymentMethodRecord, 'expMonth' | 'expYear'>) => expiry.expYear * 12 + expiry.expMonth;
    if (months(added) < months(existing)) return existing;
    const later = months(added) > months(existing);
    // Sealed for another token (the card it was read as was removed meanwhile) it cannot open here.
    const card = resealed?.token === existing.token ? resealed.card : undefined;
    if (!later && !card) return existing;
    const [row] = await trx<Row>('payment_methods')
      .where({ token: existing.token })
      .update({ ...(later ? { exp_month: added.expMonth, exp_year: added.expYear } : {}), ...(card ? { card } : {}) })
      .returning('*');
    return row ? toRecord(row as Row) : undefined;
  }

  /** The subject's card with one of these fingerprints (one per live blind-index key), if it holds it. */
  async findByFingerprint(subjectId: string, fingerprints: ReadonlyArray<{ version: number; value: Buffer }>, trx?: Knex.Transaction): Promise<PaymentMethodRecord | undefined> {
    if (fingerprints.length === 0) return undefined;
    const row = await (trx ?? this.db)<Row>('payment_methods')
      .where({ subject_id: subjectId })
      .andWhere((q) => {
        for (const f of fingerprints) q.orWhere((w) => w.where('fingerprint', f.value).andWhere('fingerprint_version', f.version));
      })
      .first();
    return row ? toRecord(row) : undefined;
  }

  async find(token: string): Promise<PaymentMethodRecord | undefined> {
    const row = await this.db<Row>('payment_methods').where({ token }).first();
    return row ? toRecord(row) : undefined;
  }

  async listForSubject(subjectId: string): Promise<PaymentMethodRecord[]> {
    const rows = await this.db<Row>('payment_methods').where({ subject_id: subjectId }).orderBy('created_at');
    return rows.map(toRecord);
  }

  async delete(token: string, trx?: Knex.Transaction): Promise<boolean> {
    return (await (trx ?? this.db)('payment_methods').where({ token }).delete()) > 0;
  }

  async deleteForSubject(subjectId: string, trx: Knex.Transaction): Promise<number> {
    return trx('payment_methods').where({ subject_id: subjectId }).delete();
  }
}
