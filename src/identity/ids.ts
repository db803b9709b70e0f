import { publicRandomBytes } from '../crypto/public-random';

/** Opaque, prefixed, random identifiers; the patterns let a lookup refuse garbage without a query. */
export const CLIENT_ID_PATTERN = /^cli_[A-Za-z0-9_-]{16}$/;
export const KID_PATTERN = /^sk_[A-Za-z0-9_-]{16}$/;
export const JTI_PATTERN = /^at_[A-Za-z0-9_-]{24}$/;

const random = (bytes: number) => publicRandomBytes(bytes).toString('base64url');

export const newClientId = () => `cli_${random(12)}`;
export const newKid = () => `sk_${random(12)}`;
export const newJti = () => `at_${random(18)}`;
