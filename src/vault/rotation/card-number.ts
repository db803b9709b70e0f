import type { Knex } from 'knex';
import type { KeyHierarchy } from '../../crypto/key-hierarchy';
import type { Sealed } from '../../crypto/sealed';
import { cardField, parseSealedCard } from '../payment-method-view';

/**
 * The card number inside a sealed card (a JSON object with `number`, see payment-methods.ts),
 * for re-computing its fingerprint. The number stays in this process's memory only for the HMAC.
 */
export async function cardNumberOf(keys: KeyHierarchy, subjectId: string, token: string, card: Sealed, trx?: Knex.Transaction): Promise<string> {
  const plaintext = await keys.open(subjectId, cardField(token), card, trx);
  try {
    const parsed = parseSealedCard(plaintext) as { number?: unknown };
    if (typeof parsed.number !== 'string') throw new Error('a sealed card holds no card number');
    return parsed.number;
  } finally {
    plaintext.fill(0);
  }
}
