import type { Sealed } from '../crypto/sealed';

/**
 * The part of the key hierarchy (src/crypto/key-hierarchy.ts) that identity needs: sealing a
 * secret of a named kind and id, and opening it again. The id is bound into the seal, so a
 * sealed key copied to another row does not open.
 */
export interface SecretSealer {
  sealSecret(kind: string, id: string, plaintext: Buffer): Promise<Sealed>;
  openSecret(kind: string, id: string, sealed: Sealed): Promise<Buffer>;
}

export const SIGNING_KEY_KIND = 'jwt_signing_key';
