import type { KeyHierarchy } from '../crypto/key-hierarchy';
import { VaultError } from '../errors/vault-error';
import { assertAllowed, type Allowed, type Decision } from '../policy/decision';
import type { DecisionPoint } from '../policy/decision-point';
import type { SubjectFields } from '../store/subjects';
import { rereadUnderChoices } from './decided-write';
import { openRereadingAfterKeyChange } from './key-changes';
import type { SubjectReads } from './subject-reads';
import type { Caller } from './caller';
import { isSubjectId, subjectNotFound } from './ids';
import { factsOrMissing } from './subjects';

export const MAX_BATCH = 1000;

export type Resolution = { subject_id: string; email: string } | { subject_id: string; error: string };

/**
 * The mailer's question — "where do I send this, for this purpose?" — answered only when the
 * purpose and the subject's own choices allow it. A batch answers every id on its own, so one
 * refused subject never fails the others, and audits all of them in one commit.
 */
export class EmailResolution {
  constructor(
    private readonly keys: KeyHierarchy,
    private readonly subjects: SubjectReads,
    private readonly decisions: DecisionPoint,
  ) {}

  async resolveOne(caller: Caller, id: string): Promise<{ subject_id: string; email: string }> {
    const record = isSubjectId(id) ? (await this.subjects.findFields([id], ['email'])).get(id) : undefined;
    const decision = assertAllowed(await this.decisions.decide(caller.principal, 'emails.resolve', factsOrMissing(id, record), ['email'], caller.context));
    if (!record) throw subjectNotFound();
    try {
      return { subject_id: id, email: await this.openEmail(id, record, decision) };
    } catch (error) {
      // No address to give (none on file, erased since, or an opt-out found on a row read again): the allowed disclosure did not happen.
      if (isNotGiven(error)) await this.notGiven(caller, [decision], error.code);
      throw error;
    }
  }

  async resolveBatch(caller: Caller, ids: readonly string[]): Promise<Resolution[]> {
    const records = await this.subjects.findFields(ids.filter(isSubjectId), ['email']);
    // One decision, and one audit event, per item: ids that name no subject are recorded as looked up and not found.
    const decisions = await this.decisions.decideEach(caller.principal, 'emails.resolve', ids.map((id) => factsOrMissing(id, records.get(id))), ['email'], caller.context);
    const decided = new Map<string, Decision>(ids.map((id, i) => [id, decisions[i]!]));
    // A batch-wide refusal (scope, purpose, grant) is the caller's problem, not the subjects': refuse it whole.
    const first = decisions[0];
    if (first && !first.allowed && ['insufficient_scope', 'purpose_not_granted', 'grant_expired', 'field_not_allowed'].includes(first.reason)) assertAllowed(first);

    // Allowed, yet no address given (none on file, or erased since): recorded as not done, by why.
    const notGiven = new Map<string, Allowed[]>();
    const resolutions = await Promise.all(
      ids.map(async (id): Promise<Resolution> => {
        const record = records.get(id);
        const decision = decided.get(id);
        // A refusal first: an id that names no subject is decided as a lookup, and a caller its
        // decisions refuse (no approval, say) must not learn from the answer which ids exist.
        if (decision && !decision.allowed) return { subject_id: id, error: decision.reason };
        if (!record || !decision) return { subject_id: id, error: 'not_found' };
        try {
          return { subject_id: id, email: await this.openEmail(id, record, decision) };
        } catch (error) {
          // Erased, its email removed, or opted out, since the batch read it: that subject's answer, not the batch's.
          if (!isNotGiven(error)) throw error;
          notGiven.set(error.code, [...(notGiven.get(error.code) ?? []), decision]);
          return { subject_id: id, error: error.code === 'subject_not_found' ? 'not_found' : error.code };
        }
      }),
    );
    for (const [code, decisions] of notGiven) await this.notGiven(caller, decisions, code);
    return resolutions;
  }

  private notGiven(caller: Caller, decisions: readonly Allowed[], code: string): Promise<void> {
    return this.decisions.recordNotDone(caller.principal, decisions, `not_done:${code}`, caller.context);
  }

  private openEmail(id: string, record: SubjectFields, decision: Allowed): Promise<string> {
    const reread = () => rereadUnderChoices(this.decisions, decision, () => this.subjects.fieldsAgain(id, ['email']));
    return openRereadingAfterKeyChange(record, reread, async (read) => {
      // Checked on the row as read, and again on a row read after a key change.
      if (!read.sealed.email) throw new VaultError('email_not_on_file', 404, 'The subject has no email address');
      return (await this.keys.open(id, 'email', read.sealed.email)).toString('utf8');
    });
  }
}

/** A refusal of the vault's own after the decision allowed it (404 nothing to give, 403 an opt-out found on a row read again). */
const isNotGiven = (error: unknown): error is VaultError => error instanceof VaultError && (error.status === 404 || error.status === 403);
