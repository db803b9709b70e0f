import { setTimeout as sleep } from 'node:timers/promises';
import type { BlindIndex } from '../crypto/blind-index';
import { isUniqueViolation } from '../store/clients';
import type { IdempotencyKeyStore } from '../store/idempotency-keys';

const BATCH = 500;
const RETRY_MS = 60_000;

export interface DigestOutcome {
  /** Keys this run turned into digests. */
  changed: number;
  /** Keys left as sent: a digest of the same key was stored beside them. */
  kept: number;
}

/**
 * Stores as digests the Idempotency-Keys an earlier release recorded as sent (an email or a
 * card number among them, if a client put one there). Until a key is changed, lookups still
 * find it as sent. Stops between keys once `signal` is aborted; the next start goes on.
 */
export async function digestKeysStoredAsSent(store: IdempotencyKeyStore, index: BlindIndex, signal?: AbortSignal): Promise<DigestOutcome> {
  const outcome = { changed: 0, kept: 0 };
  let after: { clientId: string; key: string } | undefined;
  while (!signal?.aborted) {
    const batch = await store.keysStoredAsSent(after, BATCH);
    if (batch.length === 0) break;
    for (const { clientId, key } of batch) {
      if (signal?.aborted) break;
      const { stored } = await index.idempotencyKey(clientId, key);
      try {
        outcome.changed += await store.storeDigestOf(clientId, key, stored);
      } catch (error) {
        // Two releases claimed the key at once: both rows stay, this one as sent.
        if (!isUniqueViolation(error)) throw error;
        outcome.kept += 1;
      }
    }
    after = batch.at(-1);
  }
  return outcome;
}

/**
 * `digestKeysStoredAsSent` at start, in the background, tried again every minute while the
 * database or the key provider refuses, until it is done or `signal` is aborted.
 */
export async function digestUntilDone(run: () => Promise<DigestOutcome>, signal: AbortSignal, report: { done(outcome: DigestOutcome): void; failed(error: unknown): void }): Promise<void> {
  while (!signal.aborted) {
    try {
      report.done(await run());
      return;
    } catch (error) {
      report.failed(error);
      await sleep(RETRY_MS, undefined, { signal }).catch(() => undefined);
    }
  }
}
