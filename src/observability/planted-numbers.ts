/**
 * Whether text a caller sent in the form of an id could carry a card or phone number: ten digits
 * or more in a run, with at most one separator (`-`, `_`, `.`, space) between two of them. The
 * vault's own ids are random base64url, where such a run comes about once in a million; an id
 * that holds one and names nothing the vault holds is kept out of the audit trail, where a
 * number written into an id's form would stay for good.
 */
export const holdsNumber = (text: string): boolean => PLANTED_NUMBER.test(text);

const PLANTED_NUMBER = /\d(?:[-_. ]?\d){9}/;
