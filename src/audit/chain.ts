import crypto from 'node:crypto';
import type { AuditRow, ChainHead } from '../store/audit-events';
import type { StampedEvent } from './events';

/** The hash before the first event. */
export const GENESIS_HASH = Buffer.alloc(32);

/**
 * The canonical form of an event: JSON with members sorted by name at every level, every member
 * present (null when empty), the time in ISO 8601 UTC with milliseconds. The sequence number is
 * part of it, so moving an event to another place changes its hash.
 */
export function canonicalEvent(event: StampedEvent & { seq: number }): Buffer {
  return Buffer.from(
    canonicalJson({
      seq: event.seq,
      occurred_at: event.occurredAt.toISOString(),
      action: event.action,
      outcome: event.outcome,
      reason: event.reason,
      client_id: event.clientId,
      purpose: event.purpose,
      scopes: event.scopes,
      subject_id: event.subjectId,
      fields: event.fields,
      policy_version: event.policyVersion,
      request_id: event.requestId,
      source_address: event.sourceAddress,
      target: event.target,
    }),
    'utf8',
  );
}

/** SHA-256(previous hash ‖ canonical event). */
export function chainHash(previous: Buffer, event: StampedEvent & { seq: number }): Buffer {
  return crypto.createHash('sha256').update(previous).update(canonicalEvent(event)).digest();
}

/** Numbers `events` on from `head` and links each to the one before. */
export function chainEvents(head: ChainHead, events: readonly StampedEvent[]): AuditRow[] {
  let previous = head.hash;
  let seq = head.seq;
  return events.map((event) => {
    seq += 1;
    const hash = chainHash(previous, { ...event, seq });
    const row: AuditRow = { ...event, seq, prevHash: previous, hash };
    previous = hash;
    return row;
  });
}

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, member]) => member !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, member]) => `${JSON.stringify(key)}:${canonicalJson(member)}`).join(',')}}`;
}
