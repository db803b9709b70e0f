import { VaultError } from '../errors/vault-error';

/**
 * One audit event as the rest of the vault reports it: who (client, scopes, purpose), what
 * (action, subject id, fields and their reveal levels), the outcome and its reason code, under
 * which policy version, for which request, from where. Ids, names and codes only: the writer
 * refuses any member that does not look like one, so a personal value cannot slip in by mistake.
 */
export interface AuditEventInput {
  action: string;
  outcome: 'allowed' | 'denied';
  reason?: string;
  clientId?: string;
  purpose?: string;
  scopes?: readonly string[];
  subjectId?: string;
  /** Field name → reveal level (`plain`, `masked`, `token`, `absent`). */
  fields?: Readonly<Record<string, string>>;
  policyVersion?: number;
  requestId?: string;
  sourceAddress?: string;
  /** The id of what an admin action acted on (a client, an approval, a policy version, a token's jti). */
  target?: string;
}

/** An event with its time, ready to be chained. */
export interface StampedEvent {
  occurredAt: Date;
  action: string;
  outcome: 'allowed' | 'denied';
  reason: string | null;
  clientId: string | null;
  purpose: string | null;
  scopes: string[];
  subjectId: string | null;
  fields: Record<string, string>;
  policyVersion: number | null;
  requestId: string | null;
  sourceAddress: string | null;
  target: string | null;
}

const IDENTIFIER = /^[A-Za-z0-9_.:-]{1,128}$/;
const NAME = /^[a-z][a-z0-9_.:]{0,63}$/;
const ADDRESS = /^[0-9A-Za-z.:%_-]{1,64}$/;

/** Thrown for an event that would carry something other than ids and codes: a bug in the caller. */
export class InvalidAuditEvent extends VaultError {
  constructor(member: string) {
    super('internal_error', 500, 'The vault could not complete the request', { detail: `audit event member ${member} is not an identifier` });
  }
}

export function stamp(event: AuditEventInput, occurredAt: Date): StampedEvent {
  const id = (member: string, value: string | undefined, pattern = IDENTIFIER) => {
    if (value === undefined) return null;
    if (!pattern.test(value)) throw new InvalidAuditEvent(member);
    return value;
  };
  if (event.outcome !== 'allowed' && event.outcome !== 'denied') throw new InvalidAuditEvent('outcome');
  const fields: Record<string, string> = {};
  for (const [field, level] of Object.entries(event.fields ?? {})) {
    if (!NAME.test(field) || !NAME.test(level)) throw new InvalidAuditEvent('fields');
    fields[field] = level;
  }
  if (event.policyVersion !== undefined && !Number.isSafeInteger(event.policyVersion)) throw new InvalidAuditEvent('policyVersion');
  return {
    occurredAt,
    action: id('action', event.action, NAME)!,
    outcome: event.outcome,
    reason: id('reason', event.reason, NAME),
    clientId: id('clientId', event.clientId),
    purpose: id('purpose', event.purpose, NAME),
    scopes: (event.scopes ?? []).map((scope) => id('scopes', scope, NAME)!),
    subjectId: id('subjectId', event.subjectId),
    fields,
    policyVersion: event.policyVersion ?? null,
    requestId: id('requestId', event.requestId),
    sourceAddress: id('sourceAddress', event.sourceAddress, ADDRESS),
    target: id('target', event.target),
  };
}
