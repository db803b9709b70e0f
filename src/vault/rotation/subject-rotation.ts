import type { Knex } from 'knex';
import type { KeyHierarchy } from '../../crypto/key-hierarchy';
import { VaultError } from '../../errors/vault-error';
import type { RotationJobRow, RotationJobStore } from '../../store/rotation-jobs';
import type { SubjectRekeyStore } from '../../store/subject-rekey';
import type { SealedSubjectField } from '../../store/subjects';
import { cardField } from '../payment-method-view';
import type { RotationKindHandler, RotationRequest } from './rotation-kind';

/**
 * `subject`: re-key one subject (suspected exposure). In one transaction, with the subject's
 * row locked: a new subject key, every field and card sealed again under it, the old key
 * versions deleted (their ciphertexts, wherever copied, are unreadable from then on).
 */
export class SubjectRotation implements RotationKindHandler {
  constructor(
    private readonly keys: KeyHierarchy,
    private readonly store: SubjectRekeyStore,
    private readonly jobs: RotationJobStore,
  ) {}

  /**
   * The new key is made when the job runs, under the subject's row lock; here the subject need
   * only exist: looked for before the start is recorded (so a start for no subject is refused as
   * one), and again in the job's transaction (erased meanwhile).
   */
  async prepare(request: RotationRequest) {
    const subjectId = request.subjectId;
    if (!subjectId || !(await this.store.exists(subjectId))) throw subjectNotFound();
    return {
      record: async (trx: Knex.Transaction) => {
        if (!(await this.store.exists(subjectId, trx))) throw subjectNotFound();
        return { params: { subject_id: subjectId }, total: 1 };
      },
    };
  }

  async complete(job: RotationJobRow, trx: Knex.Transaction): Promise<boolean> {
    const subjectId = String(job.params.subject_id);
    // Before the subject's row lock: a wrap or a KEK may need a pooled connection, which writers
    // queued on that lock could be holding.
    await this.keys.warmKeksForRead();
    const prepared = await this.keys.prepareSubjectKey(subjectId);
    const subject = await this.store.lock(trx, subjectId).catch((error: unknown) => {
      prepared.subjectKey.fill(0);
      throw error;
    });
    if (!subject) {
      // Erased meanwhile: its key is gone already, which is what a re-key wanted.
      prepared.subjectKey.fill(0);
    } else {
      const rekey = await this.keys.rekeySubject(subjectId, trx, prepared);
      try {
        for (const [field, sealed] of Object.entries(subject.sealed)) subject.sealed[field as SealedSubjectField] = rekey.reseal(field, sealed);
        subject.cards = subject.cards.map((card) => ({ token: card.token, card: rekey.reseal(cardField(card.token), card.card) }));
        await this.store.write(trx, subject);
      } catch (error) {
        rekey.abandon();
        throw error;
      }
      await rekey.finish();
    }
    await this.jobs.addProgress(trx, job.id, 1);
    return true;
  }
}

const subjectNotFound = () => new VaultError('subject_not_found', 404, 'No such subject');
