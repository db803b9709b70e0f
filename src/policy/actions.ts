import type { DataScope } from '../identity/scopes';
import { atLeast, type Field, type FieldLevel, type RevealLevel } from './vocabulary';

/**
 * How an action uses the fields it names:
 * - `read`: reveal each at the purpose's level; fields the purpose does not see are left out,
 *   and a read that would show none of the fields asked for is refused;
 * - `reveal`: every field must be `plain` (an address to send to, a card to charge);
 * - `write`: the caller supplies the values; it may touch only fields it may see (masked or plain);
 * - `owner`: the action is the record's owner's (ownsRecord: every field of the record in plain,
 *   on no condition, subjects named by id), whatever fields the caller names; its event records none.
 */
export type FieldMode = 'read' | 'reveal' | 'write' | 'owner';

/**
 * Whether a purpose that sees a field at `level` may use it as `mode` uses its fields (a read is
 * refused only when none of them passes; an owner's action is decided by ownership, not here).
 */
export function levelServes(mode: Exclude<FieldMode, 'owner'>, level: FieldLevel): boolean {
  if (mode === 'reveal') return level === 'plain';
  if (mode === 'write') return atLeast(level, 'masked');
  return level !== 'absent';
}

export interface ActionRule {
  scope: DataScope;
  fieldMode: FieldMode;
  /**
   * Fields the action also discloses, each at the purpose's own level (left out when absent),
   * outside `fieldMode`'s rule: recorded in the decision and its audit event like the others.
   */
  alongside?: readonly string[];
  /** How a `write` action uses its fields, for a refusal's detail ("writes" when unset). */
  uses?: string;
  /**
   * A `write` only the record's owner makes (ownsRecord), decided on the fields it names like
   * any write: the subject's values are the subject's own, changed through the account service.
   */
  ownerOnly?: true;
  /**
   * The most the action shows of a field whatever the purpose's level (a card listing shows it
   * masked even to a purpose that may reveal it): the decision and its audit event say so.
   */
  shownAtMost?: Partial<Record<Field, RevealLevel>>;
}

// Only a reveal shows a card's number; every other action that shows one shows it masked at most.
const CARD_MASKED = { payment_method: 'masked' } as const;

/** Every data action the vault performs, with the scope it needs. Data routes name one of these. */
export const DATA_ACTIONS = {
  // A subject's values are created and changed by the record's owner alone. Any other purpose
  // that could write a field could overwrite what it sees only masked, or redirect the account's
  // own mail by writing its email (a support desk, a partner mailing), whatever its scopes.
  'subjects.create': { scope: 'subjects:write', fieldMode: 'write', ownerOnly: true, uses: 'writes (all of them when it sets external_id)' },
  // A creation retried with its Idempotency-Key, answered with the subject the first one made:
  // decided on that subject as its creation was, and recorded as such in its access log.
  'subjects.replay': { scope: 'subjects:write', fieldMode: 'write', ownerOnly: true, uses: 'writes (all of them when it sets external_id)' },
  'subjects.read': { scope: 'subjects:read', fieldMode: 'read' },
  'subjects.update': { scope: 'subjects:write', fieldMode: 'write', ownerOnly: true, uses: 'writes (all of them when it sets external_id)' },
  // Erasure destroys everything held, irreversibly: only the record's owner may erase (not a
  // break-glass purpose, whose approval is for a disclosure).
  'subjects.erase': { scope: 'subjects:write', fieldMode: 'owner' },
  'subjects.search': { scope: 'subjects:search', fieldMode: 'write', uses: 'searches by' },
  // Portability hands over everything held, so only a purpose that sees every field in plain may export.
  // Cards go with it at the purpose's level for them (masked at most): a purpose need not see them to export.
  'subjects.export': { scope: 'subjects:read', fieldMode: 'reveal', alongside: ['payment_method'], shownAtMost: CARD_MASKED },
  // Consent is the subject's own choice, recorded by the record's owner (the account service):
  // a contractor or a partner purpose never opts a subject in, not even with the scope.
  'preferences.write': { scope: 'preferences:write', fieldMode: 'owner' },
  // The caller that keeps a subject's choices reads them with the same scope.
  'preferences.read': { scope: 'preferences:write', fieldMode: 'owner' },
  'emails.resolve': { scope: 'emails:resolve', fieldMode: 'reveal' },
  'payment_methods.create': { scope: 'payment_methods:write', fieldMode: 'write', shownAtMost: CARD_MASKED },
  'payment_methods.list': { scope: 'payment_methods:read', fieldMode: 'read', shownAtMost: CARD_MASKED },
  'payment_methods.read': { scope: 'payment_methods:read', fieldMode: 'read', shownAtMost: CARD_MASKED },
  // A purpose that may add a card (sees payment methods at least masked) may remove one; no other.
  'payment_methods.delete': { scope: 'payment_methods:write', fieldMode: 'write', shownAtMost: CARD_MASKED },
  'payment_methods.reveal': { scope: 'payment_methods:reveal', fieldMode: 'reveal' },
} as const satisfies Record<string, ActionRule>;

export type DataAction = keyof typeof DATA_ACTIONS;
export const isDataAction = (value: string): value is DataAction => Object.hasOwn(DATA_ACTIONS, value);
