import { VaultError } from '../errors/vault-error';
import type { Allowed, SubjectFacts } from '../policy/decision';
import type { DecisionPoint } from '../policy/decision-point';
import type { Caller } from './caller';

/**
 * A change and the decisions of its request that allowed it. Those are in the trail before the
 * change is tried; when the vault then refuses the change (a stale ETag, a taken external id, a
 * card changed meanwhile), each is followed by a `not_done:<code>` event, so an access log never
 * shows an allowed change without saying that it did not happen.
 */
export class DecidedWrite {
  private readonly decided: Allowed[] = [];
  private recorded = false;

  constructor(
    private readonly decisions: DecisionPoint,
    private readonly caller: Caller,
  ) {}

  /** Counts `decision` among those the change rests on, and hands it back. */
  restsOn(decision: Allowed): Allowed {
    this.decided.push(decision);
    return decision;
  }

  async run<T>(change: () => Promise<T>): Promise<T> {
    try {
      return await change();
    } catch (error) {
      // Only a refusal says for certain that nothing changed: a 5xx may come from a commit whose
      // outcome is unknown (the connection dropped at COMMIT), and the trail then keeps the
      // allowed decisions alone rather than claim the change did not happen.
      if (error instanceof VaultError && error.status < 500) await this.notDone(error.code);
      throw error;
    }
  }

  /**
   * Records, once, that the change the decisions allowed did not happen, and why. Like every
   * audit write it is not given up on quietly: a trail that cannot take it answers 503
   * `audit_unavailable` in place of the refusal.
   */
  async notDone(code: string): Promise<void> {
    if (this.recorded) return;
    this.recorded = true;
    await this.decisions.recordNotDone(this.caller.principal, this.decided, `not_done:${code}`, this.caller.context);
  }
}

/**
 * A disclosure its decision allowed, made after that decision is in the trail. Should it find
 * nothing after all (an erasure, or the card's removal, committed in between), the decision is
 * followed by `not_done:<code>` as a refused change's is: the trail never shows a read, a
 * reveal or an export that gave nothing as one that was made.
 */
export function disclose<T>(decisions: DecisionPoint, caller: Caller, decision: Allowed, open: () => Promise<T>): Promise<T> {
  const disclosure = new DecidedWrite(decisions, caller);
  disclosure.restsOn(decision);
  return disclosure.run(open);
}

/**
 * The subject's row read again for a disclosure decided on the row first read (a re-key made
 * the first unreadable): the subject's choices as they stand now must still let the decision's
 * purpose see it, since an opt-out may have committed in between. Refused with the decision's
 * own reason (403 `subject_opted_out`, …), which `disclose` then records as not done.
 */
export async function rereadUnderChoices<R extends { id: string; preferences: SubjectFacts['preferences'] }>(
  decisions: DecisionPoint,
  decision: Allowed,
  reread: () => Promise<R>,
): Promise<R> {
  const again = await reread();
  (await decisions.choicesCheck(decision))({ id: again.id, preferences: again.preferences });
  return again;
}
