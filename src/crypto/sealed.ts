/**
 * A value sealed by the key hierarchy (see docs/ciphertext-format.md). The brand exists only
 * in the type system: the store accepts `Sealed` for personal values, so code that would
 * write plaintext to the database does not compile.
 */
export type Sealed = Buffer & { readonly __sealed: unique symbol };

/** Marks bytes as sealed. Only the crypto module creates sealed values from scratch. */
export const asSealed = (bytes: Buffer): Sealed => bytes as Sealed;
