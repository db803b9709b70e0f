import { publicRandomBytes } from '../crypto/public-random';
import { VaultError } from '../errors/vault-error';
import { holdsNumber } from '../observability/planted-numbers';

// 128 random bits: unguessable, so an id alone grants nothing and reveals no count.
const random = () => publicRandomBytes(16).toString('base64url');

// Drawn again should it hold a run of ten digits (about once in a million): the audit trail
// leaves such an id out where a caller asked for it (holdsNumber), so no subject's may hold one.
export const newSubjectId = (): string => {
  const id = `sub_${random()}`;
  return holdsNumber(id) ? newSubjectId() : id;
};
export const newPaymentMethodToken = () => `pm_${random()}`;

const SUBJECT_ID = /^sub_[A-Za-z0-9_-]{22}$/;
const PAYMENT_METHOD_TOKEN = /^pm_[A-Za-z0-9_-]{22}$/;

/** An id that cannot be one of ours is simply not found: no hint about the format is needed. */
export function subjectNotFound(): VaultError {
  return new VaultError('subject_not_found', 404, 'No such subject');
}

export function paymentMethodNotFound(): VaultError {
  return new VaultError('payment_method_not_found', 404, 'No such payment method');
}

export const isSubjectId = (value: string) => SUBJECT_ID.test(value);
export const isPaymentMethodToken = (value: string) => PAYMENT_METHOD_TOKEN.test(value);
