import type { AuditTrail } from '../audit/trail';
import { assertAllowed } from '../policy/decision';
import type { DecisionPoint } from '../policy/decision-point';
import { effectivePreferences, type PreferenceDefaults } from '../policy/preferences';
import type { ConsentHistoryStore } from '../store/consent-history';
import type { PaymentMethodStore } from '../store/payment-methods';
import type { Caller } from './caller';
import { isSubjectId, subjectNotFound } from './ids';
import { openRereadingAfterKeyChange } from './key-changes';
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
 */
export class SubjectExport {
  constructor(
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
    // Cards at most masked (brand, last four, expiry), whatever the purpose could reveal; none if it may not see them.
    const cardLevel = decision.fields.payment_method ?? 'absent';
    const [subject, cards, consent, accessLog] = await Promise.all([
      openRereadingAfterKeyChange(record, () => this.subjects.again(id), (read) => this.renderer.render(read, decision)),
      cardLevel === 'absent' ? undefined : this.paymentMethods.listForSubject(id),
      this.consent.list(id),
      this.trail.wholeAccessLog(id, { clientId: caller.principal.clientId, scopes: caller.principal.scopes, ...caller.context }),
    ]);
    return {
      exported_at: new Date().toISOString(),
      subject,
      preferences: effectivePreferences(record.preferences, this.defaults),
      payment_methods: cards?.map((card) => (cardLevel === 'token' ? { token: card.token } : { token: card.token, brand: card.brand, last4: card.last4, exp_month: card.expMonth, exp_year: card.expYear })),
      consent_history: consent.map((c) => ({ preference: c.preference, value: c.value, changed_by: c.changedBy, changed_at: c.changedAt.toISOString() })),
      access_log: accessLog,
    };
  }
}
