import type { Knex } from 'knex';
import type { BlindIndex } from '../crypto/blind-index';
import type { KeyHierarchy } from '../crypto/key-hierarchy';
import { integrityError } from '../crypto/key-errors';
import { VaultError } from '../errors/vault-error';
import type { DataAction } from '../policy/actions';
import { assertAllowed, type Allowed, type SubjectFacts, type SubjectLookup } from '../policy/decision';
import type { DecisionPoint } from '../policy/decision-point';
import { assertBlindIndexCurrent, BlindIndexKeysBehind } from '../store/blind-index-keys';
import type { Database } from '../store/database';
import type { PaymentMethodRecord, PaymentMethodStore } from '../store/payment-methods';
import type { SubjectRecord, SubjectStore } from '../store/subjects';
import type { Caller } from './caller';
import { DecidedWrite, disclose } from './decided-write';
import { isPaymentMethodToken, isSubjectId, newPaymentMethodToken, paymentMethodNotFound, subjectNotFound } from './ids';
import type { CardInput } from './input/card-input';
import {
  cardField,
  maskedView,
  viewAt,
  type MaskedPaymentMethod,
  type PaymentMethodReference,
  type RevealedCard,
  type SealedCardContents,
} from './payment-method-view';
import { indexKeysKeptChanging, openRereadingAfterKeyChange, SealedUnderRetiredKey, writeOnceMoreAfterRekey } from './key-changes';
import { factsOf, factsOrMissing } from './subjects';

export interface PaymentMethodDependencies {
  db: Database;
  keys: KeyHierarchy;
  index: BlindIndex;
  subjects: SubjectStore;
  paymentMethods: PaymentMethodStore;
  decisions: DecisionPoint;
}

// Times one add seals the card again for the token another add stored it under meanwhile.
const STORE_ATTEMPTS = 3;

interface CardToStore {
  subjectId: string;
  card: CardInput;
  /** The token a new payment method gets. */
  token: string;
  fingerprint: { version: number; value: Buffer };
  candidates: ReadonlyArray<{ version: number; value: Buffer }>;
}

/** The card was stored by another add after this one looked: its contents must be sealed for `token`. */
class CardStoredMeanwhile extends Error {
  constructor(readonly token: string) {
    super('the card was stored meanwhile under another token');
  }
}

// The one personal field every payment-method decision is about.
const CARD_FIELDS = ['payment_method'] as const;

/**
 * Payment methods: a card is tokenized once per subject and then named only by its `pm_…`
 * token. Every operation decides (and so audits) before it tells whether the card exists, and
 * only a reveal hands out the sealed number, after its audit event is committed (an export
 * opens a card for its holder name alone).
 */
export class PaymentMethods {
  constructor(private readonly deps: PaymentMethodDependencies) {}

  /**
   * Tokenizes a card; the same card (by fingerprint) added again to the subject answers the
   * stored one, brought up to date (expiry, holder name) unless what came is an older copy.
   */
  async add(caller: Caller, subjectId: string, card: CardInput): Promise<{ view: MaskedPaymentMethod; created: boolean }> {
    const subject = isSubjectId(subjectId) ? await this.deps.subjects.find(subjectId) : undefined;
    const write = new DecidedWrite(this.deps.decisions, caller);
    const decision = write.restsOn(await this.decide(caller, 'payment_methods.create', factsOrMissing(subjectId, subject), CARD_FIELDS));
    if (!subject) throw subjectNotFound();
    return write.run(async () => this.addDecided(subjectId, card, await this.deps.decisions.choicesCheck(decision)));
  }

  private async addDecided(subjectId: string, card: CardInput, choicesHold: (subject: SubjectFacts) => void): Promise<{ view: MaskedPaymentMethod; created: boolean }> {
    let added = await this.fingerprinted(subjectId, card);
    let known = (await this.deps.paymentMethods.findByFingerprint(subjectId, added.candidates))?.token;
    for (let attempt = 1; ; attempt++) {
      try {
        const outcome = await writeOnceMoreAfterRekey(() => this.store(added, known, choicesHold));
        return { view: maskedView(outcome.record), created: outcome.created };
      } catch (error) {
        if (error instanceof BlindIndexKeysBehind) {
          if (attempt === STORE_ATTEMPTS) throw indexKeysKeptChanging();
          // Another instance rotated the index keys: with this one's, the stored card (re-indexed
          // under the new key) would not be found, and the subject would hold the card twice.
          await this.deps.index.refresh();
          added = await this.fingerprinted(subjectId, card);
          known = (await this.deps.paymentMethods.findByFingerprint(subjectId, added.candidates))?.token;
          continue;
        }
        if (!(error instanceof CardStoredMeanwhile)) throw error;
        // Removed and added again by others over and over: this add is answered, never dropped.
        if (attempt === STORE_ATTEMPTS) {
          throw new VaultError('payment_method_conflict', 409, 'The card was changed by other requests at the same time; send it again');
        }
        known = error.token;
      }
    }
  }

  /** The card with a new token, its fingerprint under the active index key, and those it may be stored under. */
  private async fingerprinted(subjectId: string, card: CardInput): Promise<CardToStore> {
    const [fingerprint, candidates] = await Promise.all([this.deps.index.cardFingerprint(card.number), this.deps.index.cardCandidates(card.number)]);
    return { subjectId, card, token: newPaymentMethodToken(), fingerprint, candidates };
  }

  /**
   * Seals the card and writes it under the subject's row lock. A card the subject already holds
   * keeps its token, the binding its contents are sealed under: sealed for that token too, they
   * replace the stored ones (a new holder name). When another add stored the card after `known`
   * was looked up, the contents were sealed for no token it has: CardStoredMeanwhile names it,
   * so they are sealed again for it rather than the acknowledged holder name being dropped.
   */
  private async store(added: CardToStore, known: string | undefined, choicesHold: (subject: SubjectFacts) => void): Promise<{ record: PaymentMethodRecord; created: boolean }> {
    const { subjectId, card, token, fingerprint, candidates } = added;
    const contents: SealedCardContents = { number: card.number, holder_name: card.holderName };
    const sealed = await this.deps.keys.seal(subjectId, cardField(token), JSON.stringify(contents));
    const resealed = known ? { token: known, card: await this.deps.keys.seal(subjectId, cardField(known), JSON.stringify(contents)) } : undefined;
    return this.deps.db.transaction(async (trx) => {
      // The subject's row lock orders this add against an erasure, a re-key and a concurrent add of
      // the same card, and an opt-out committed since the decision refuses it.
      const subject = await this.deps.subjects.findForUpdate(subjectId, trx);
      if (!subject) throw subjectNotFound();
      choicesHold(factsOf(subject));
      const stored = await this.deps.paymentMethods.findByFingerprint(subjectId, candidates, trx);
      // After the lookup: a re-index that moved the stored card past these candidates added its key version first.
      await assertBlindIndexCurrent(trx, Math.max(...candidates.map((candidate) => candidate.version)));
      if (stored && stored.token !== known) throw new CardStoredMeanwhile(stored.token);
      const written = resealed ? [sealed, resealed.card] : [sealed];
      if (!(await this.deps.keys.sealedUnderCurrentKey(subjectId, written, trx))) throw new SealedUnderRetiredKey();
      const record = { token, subjectId, card: sealed, brand: card.brand, last4: card.last4, expMonth: card.expMonth, expYear: card.expYear, fingerprint: fingerprint.value, fingerprintVersion: fingerprint.version };
      return this.deps.paymentMethods.insertOrKeep(record, stored, candidates, trx, resealed);
    });
  }

  /** The subject's payment methods, masked (or as bare tokens, if that is all the purpose may see). */
  async list(caller: Caller, subjectId: string): Promise<Array<MaskedPaymentMethod | PaymentMethodReference>> {
    const subject = isSubjectId(subjectId) ? await this.deps.subjects.find(subjectId) : undefined;
    const decision = await this.decide(caller, 'payment_methods.list', factsOrMissing(subjectId, subject), CARD_FIELDS);
    if (!subject) throw subjectNotFound();
    const level = levelOf(decision);
    return (await this.deps.paymentMethods.listForSubject(subjectId)).map((record) => viewAt(record, level));
  }

  async get(caller: Caller, token: string): Promise<MaskedPaymentMethod | PaymentMethodReference> {
    const { record, decision } = await this.findAndDecide(caller, 'payment_methods.read', token);
    return viewAt(record, levelOf(decision));
  }

  /**
   * The full card, for a purpose that sees payment methods in `plain` (payment processing).
   * The decision point commits the reveal's audit event before this opens the ciphertext.
   */
  async reveal(caller: Caller, token: string): Promise<RevealedCard> {
    const { record, decision } = await this.findAndDecide(caller, 'payment_methods.reveal', token);
    const contents = await disclose(this.deps.decisions, caller, decision, () =>
      openRereadingAfterKeyChange(
        record,
        async () => (await this.deps.paymentMethods.find(token)) ?? Promise.reject(paymentMethodNotFound()),
        (read) => openCard(this.deps.keys, read),
      ),
    );
    return {
      token: record.token,
      brand: maskedView(record).brand,
      number: contents.number,
      holder_name: contents.holder_name,
      exp_month: record.expMonth,
      exp_year: record.expYear,
    };
  }

  async delete(caller: Caller, token: string): Promise<void> {
    const { record, decision } = await this.findAndDecide(caller, 'payment_methods.delete', token);
    const write = new DecidedWrite(this.deps.decisions, caller);
    write.restsOn(decision);
    // A concurrent delete or erasure may have taken it since it was read: this delete did not happen.
    await write.run(async () => {
      const choicesHold = await this.deps.decisions.choicesCheck(decision);
      await this.deps.db.transaction(async (trx) => {
        // Under the subject's row lock, as an add: an opt-out committed since the decision refuses it.
        const subject = await this.deps.subjects.findForUpdate(record.subjectId, trx);
        if (!subject) throw paymentMethodNotFound();
        choicesHold(factsOf(subject));
        if (!(await this.deps.paymentMethods.delete(record.token, trx))) throw paymentMethodNotFound();
      });
    });
  }

  /**
   * Looks the token up, decides with its subject's facts, and only then says whether it exists.
   * A token that names no card is recorded as a lookup that found nothing (the token itself
   * stays out of the trail, which never holds one).
   */
  private async findAndDecide(caller: Caller, action: DataAction, token: string): Promise<{ record: PaymentMethodRecord; decision: Allowed }> {
    const record = isPaymentMethodToken(token) ? await this.deps.paymentMethods.find(token) : undefined;
    const subject: SubjectRecord | undefined = record ? await this.deps.subjects.find(record.subjectId) : undefined;
    const decision = await this.decide(caller, action, subject ? factsOf(subject) : { missing: null }, CARD_FIELDS);
    if (!record || !subject) throw paymentMethodNotFound();
    return { record, decision };
  }

  private async decide(caller: Caller, action: DataAction, subject: SubjectLookup, fields: readonly string[]): Promise<Allowed> {
    return assertAllowed(await this.deps.decisions.decide(caller.principal, action, subject, fields, caller.context));
  }
}

const levelOf = (decision: Allowed) => decision.fields.payment_method ?? 'absent';

/** What is sealed for a card: its number and holder name, opened together under the subject's key. */
export async function openCard(keys: KeyHierarchy, card: Pick<PaymentMethodRecord, 'subjectId' | 'token' | 'card'>, trx?: Knex.Transaction): Promise<SealedCardContents> {
  return parseContents(await keys.open(card.subjectId, cardField(card.token), card.card, trx));
}

/** The sealed document, checked for shape: it authenticated, so a bad shape is a bug or tampering, never input. */
function parseContents(plaintext: Buffer): SealedCardContents {
  try {
    const parsed = parseJson(plaintext) as Partial<SealedCardContents>;
    if (typeof parsed.number !== 'string' || typeof parsed.holder_name !== 'string') throw integrityError('a sealed card does not hold a number and a holder name');
    return { number: parsed.number, holder_name: parsed.holder_name };
  } finally {
    // The strings handed out cannot be wiped; the decrypted buffer can, at once.
    plaintext.fill(0);
  }
}

/** A parse error's message can quote the text (the number): it never escapes, an integrity error does. */
function parseJson(plaintext: Buffer): unknown {
  try {
    return JSON.parse(plaintext.toString('utf8'));
  } catch {
    throw integrityError('a sealed card is not the JSON the vault seals');
  }
}
