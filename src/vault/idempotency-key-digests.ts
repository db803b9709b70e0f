import type { BlindIndex } from '../crypto/blind-index';
import { isUniqueViolation } from '../store/clients';
import type { IdempotencyKeyStore } from '../store/idempotency-keys';

const BATCH = 500;

/**
 * Stores as digests the Idempotency-Keys an earlier release recorded as sent (an email or a
 * card number among them, if a client put one there), and returns how many it changed. Run at
 * start, in the background: until a key is changed, lookups still find it as sent.
 */
export async function digestKeysStoredAsSent(store: IdempotencyKeyStore, index: BlindIndex): Promise<number> {
  let changed = 0;
  let after: { clientId: string; key: string } | undefined;
  for (;;) {
    const batch = await store.keysStoredAsSent(after, BATCH);
    if (batch.length === 0) return changed;
    for (const { clientId, key } of batch) {
      const { stored } = await index.idempotencyKey(clientId, key);
      try {
        await store.storeDigestOf(clientId, key, stored);
        changed += 1;
      } catch (error) {
        // A digest row of the same key exists beside it (two releases claimed it at once): both stay, and this one as sent.
        if (!isUniqueViolation(error)) throw error;
      }
    }
    after = batch.at(-1);
  }
}
