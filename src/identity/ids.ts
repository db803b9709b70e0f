import { publicRandomBytes } from '../crypto/public-random';
import { holdsNumber } from '../observability/planted-numbers';

/** Opaque, prefixed, random identifiers; the patterns let a lookup refuse garbage without a query. */
export const CLIENT_ID_PATTERN = /^cli_[A-Za-z0-9_-]{16}$/;
export const KID_PATTERN = /^sk_[A-Za-z0-9_-]{16}$/;
export const JTI_PATTERN = /^at_[A-Za-z0-9_-]{24}$/;

const random = (bytes: number) => publicRandomBytes(bytes).toString('base64url');

// Drawn again should it hold a run of ten digits (about once in ten million): the audit trail
// leaves such an id out where a caller asked for it (holdsNumber), so none of the vault's own may hold one.
export const newClientId = (): string => {
  const id = `cli_${random(12)}`;
  return holdsNumber(id) ? newClientId() : id;
};
export const newKid = () => `sk_${random(12)}`;
export const newJti = () => `at_${random(18)}`;
