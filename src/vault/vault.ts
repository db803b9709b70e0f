import type { AuditTrail } from '../audit/trail';
import { BlindIndex } from '../crypto/blind-index';
import type { KeyHierarchy } from '../crypto/key-hierarchy';
import type { DecisionPoint } from '../policy/decision-point';
import type { PreferenceDefaults } from '../policy/preferences';
import { BlindIndexKeyStore } from '../store/blind-index-keys';
import { ConsentHistoryStore } from '../store/consent-history';
import type { Database } from '../store/database';
import { IdempotencyKeyStore } from '../store/idempotency-keys';
import { digestKeysStoredAsSent, type DigestOutcome } from './idempotency-key-digests';
import { PaymentMethodStore } from '../store/payment-methods';
import { SubjectStore } from '../store/subjects';
import { EmailResolution } from './emails';
import { SubjectExport } from './export';
import { PaymentMethods } from './payment-methods';
import { SubjectRenderer } from './subject-view';
import { SubjectReads } from './subject-reads';
import { Subjects } from './subjects';

/** The domain the data routes call: one object per aggregate, each deciding, sealing and auditing. */
export interface VaultDomain {
  subjects: Subjects;
  emails: EmailResolution;
  exports: SubjectExport;
  paymentMethods: PaymentMethods;
  index: BlindIndex;
  /** Idempotency-Keys an earlier release stored as sent become digests (until `signal` is aborted). */
  digestKeysStoredAsSent(signal?: AbortSignal): Promise<DigestOutcome>;
}

export interface VaultDomainDependencies {
  db: Database;
  keys: KeyHierarchy;
  decisions: DecisionPoint;
  trail: AuditTrail;
  preferenceDefaults: PreferenceDefaults;
}

export function createVaultDomain({ db, keys, decisions, trail, preferenceDefaults }: VaultDomainDependencies): VaultDomain {
  const index = new BlindIndex(keys, new BlindIndexKeyStore(db));
  const subjectStore = new SubjectStore(db);
  const consent = new ConsentHistoryStore(db);
  const paymentMethodStore = new PaymentMethodStore(db);
  const renderer = new SubjectRenderer(keys, index);
  const reads = new SubjectReads(keys, subjectStore);
  const idempotency = new IdempotencyKeyStore(db);
  const subjects = new Subjects({ db, keys, index, subjects: subjectStore, reads, consent, idempotency, decisions, renderer, preferenceDefaults });
  return {
    subjects,
    emails: new EmailResolution(keys, reads, decisions),
    exports: new SubjectExport(keys, reads, paymentMethodStore, consent, trail, decisions, renderer, preferenceDefaults),
    paymentMethods: new PaymentMethods({ db, keys, index, subjects: subjectStore, paymentMethods: paymentMethodStore, decisions }),
    index,
    digestKeysStoredAsSent: (signal) => digestKeysStoredAsSent(idempotency, index, signal),
  };
}
