import type { AuditTrail } from '../audit/trail';
import type { KeyHierarchy } from '../crypto/key-hierarchy';
import { VaultError } from '../errors/vault-error';
import { assertAllowed, type Allowed } from '../policy/decision';
import type { DecisionPoint } from '../policy/decision-point';
import { effectivePreferences, type PreferenceDefaults } from '../policy/preferences';
import type { ConsentHistoryStore } from '../store/consent-history';
import type { PaymentMethodRecord, PaymentMethodStore } from '../store/payment-methods';
import type { SubjectRecord } from '../store/subjects';
import type { Caller } from './caller';
import { isSubjectId, subjectNotFound } from './ids';
import { disclose, rereadUnderChoices } from './decided-write';
import { openRereadingAfterKeyChange } from './key-changes';
import { openCard } from './payment-methods';
import type { SubjectRenderer } from './subject-view';
import type { SubjectReads } from './subject-reads';
import { factsOrMissing } from './subjects';

/**
 * Every personal field of the subject, each of which the exporting purpose must see in plain,
 * and its cards, shown at the purpose's level for them (see the action's rule).
 */
const EXPORT_FIELDS = ['email', 'name', 'phone', 'postal_address', 'birth_date', 'payment_method'];

/**
 * Portability: everything the vault holds about one subject, as the caller's purpose may see it,
 * with payment methods masked, the consent history and who accessed the subject's data.
 *
 * A masked card carries its holder name: the subject gave it, and an exporting purpose sees
 * names in plain. It is sealed with the card's number, so the export opens both and hands on
 * only the name (as a reveal does, the decrypted buffer is wiped at once).
 */
export class SubjectExport {
  constructor(
    private readonly keys: KeyHierarchy,
    private readonly subjects: SubjectReads,
    private readonly paymentMethods: PaymentMethodStore,
    private readonly consent: ConsentHistoryStore,
    private readonly trail: AuditTrail,
    private readonly decisions: DecisionPoint,
    private readonly renderer: SubjectRenderer,
    private readonly defaults: PreferenceDefaults,
  ) {}

  async export(caller: Caller, id: string) {
    const record = isSubjectId(id) ? await this.subjects.find(id) : undefined;
    const decision = assertAllowed(
      await this.decisions.decide(caller.principal, 'subjects.export', factsOrMissing(id, record), EXPORT_FIELDS, caller.context),
    );
    if (!record) throw subjectNotFound();
    return disclose(this.decisions, caller, decision, async () => {
      const { shown, subject, cards, consent } = await this.atOneVersion(record, decision);
      // The access log is a log: read once, after the rest (it then lists this export's own decision).
      const accessLog = await this.trail.wholeAccessLog(id, { clientId: caller.principal.clientId, scopes: caller.principal.scopes, ...caller.context });
      // An erasure removes the subject, its cards and its consent history in one transaction: with
      // the subject still there after every part was read, no part was read after an erasure.
      await this.subjects.versionNow(id);
      return {
        exported_at: new Date().toISOString(),
        subject,
        preferences: effectivePreferences(shown.preferences, this.defaults),
        payment_methods: cards,
        consent_history: consent.map((c) => ({ preference: c.preference, value: c.value, changed_by: c.changedBy, changed_at: c.changedAt.toISOString() })),
        access_log: accessLog,
      };
    });
  }

  /**
   * The subject's values, preferences and consent history as of one version of the subject, so
   * the export does not state a consent its own history shows withdrawn. A change commits the
   * subject's new version with its consent history, so the version read at the end, the same as
   * the row's the parts were read after, says no change came between. Otherwise, or when a
   * re-key made the row be read again midway, all is read again from the newer row. (A card
   * added or removed leaves the version as it was: the cards are those held as the export ran.)
   */
  private async atOneVersion(first: SubjectRecord, decision: Allowed) {
    // Cards at most masked (brand, last four, expiry, holder name), whatever the purpose could reveal; none if it may not see them.
    const cardLevel = decision.fields.payment_method ?? 'absent';
    let record = first;
    for (let attempt = 1; attempt <= READS_OF_A_CHANGING_SUBJECT; attempt++) {
      let shown = record;
      const [subject, cards, consent] = await Promise.all([
        openRereadingAfterKeyChange(record, () => rereadUnderChoices(this.decisions, decision, () => this.subjects.again(record.id)), (read) => {
          shown = read;
          return this.renderer.render(read, decision);
        }),
        cardLevel === 'absent' ? undefined : this.cards(record.id, cardLevel === 'token'),
        this.consent.list(record.id),
      ]);
      if (shown === record && (await this.subjects.versionNow(record.id)) === record.version) return { shown, subject, cards, consent };
      record = await rereadUnderChoices(this.decisions, decision, () => this.subjects.again(record.id));
    }
    // A 409, like a write overtaken by re-keys (subject_rekeyed): nothing was given, and the trail says so.
    throw new VaultError('subject_busy', 409, 'The subject kept changing while it was exported; send the request again', { headers: { 'Retry-After': '1' } });
  }

  /** The subject's cards, as tokens alone or masked with their holder names. */
  private async cards(subjectId: string, tokensOnly: boolean) {
    const listed = await this.paymentMethods.listForSubject(subjectId);
    if (tokensOnly) return listed.map((card) => ({ token: card.token }));
    // A re-key between the listing and the opening: the cards are listed again (one deleted meanwhile drops out).
    return openRereadingAfterKeyChange(listed, () => this.paymentMethods.listForSubject(subjectId), (cards) => Promise.all(cards.map((card) => this.masked(card))));
  }

  private async masked(card: PaymentMethodRecord) {
    const { holder_name } = await openCard(this.keys, card);
    return { token: card.token, brand: card.brand, last4: card.last4, exp_month: card.expMonth, exp_year: card.expYear, holder_name };
  }
}

// A subject changed this often during one export is being written in a loop: the caller retries.
const READS_OF_A_CHANGING_SUBJECT = 5;
