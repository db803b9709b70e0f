import { canonicalEvent, canonicalJson, chainHash } from '../../src/audit/chain';
import type { StampedEvent } from '../../src/audit/events';

type Event = StampedEvent & { seq: number };

const mailerRead: Event = {
  seq: 42,
  occurredAt: new Date('2026-11-30T12:34:56.789Z'),
  action: 'emails.resolve',
  outcome: 'allowed',
  reason: null,
  clientId: 'cl_mailer',
  purpose: 'transactional_email',
  scopes: ['subjects:email', 'emails:resolve'],
  subjectId: 'sub_0123',
  fields: { email: 'plain', name: 'absent' },
  policyVersion: 3,
  requestId: 'req_abc',
  sourceAddress: '127.0.0.1',
  target: null,
};

const events: Array<[string, Event]> = [
  ['a mailer read', mailerRead],
  ['every optional member empty', { ...mailerRead, reason: null, clientId: null, purpose: null, scopes: [], subjectId: null, fields: {}, policyVersion: null, requestId: null, sourceAddress: null }],
  ['fields given out of order', { ...mailerRead, fields: { postal_address: 'masked', email: 'plain', birth_date: 'absent', name: 'plain' } }],
  ['a denial with a reason and a target', { ...mailerRead, outcome: 'denied', reason: 'subject_opted_out', target: 'pm_x' }],
  ['strings JSON must escape', { ...mailerRead, requestId: 'req"\\/\u2028', sourceAddress: '::1', target: 'x\u00e9\u{1f600}' }],
  ['a large sequence number', { ...mailerRead, seq: Number.MAX_SAFE_INTEGER }],
];

/** The event's members under their stored names, for the generic encoder. */
function members(event: Event): Record<string, unknown> {
  return {
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
  };
}

describe('the canonical form of an audit event', () => {
  it.each(events)('is canonicalJson of its members, byte for byte: %s', (_name, event) => {
    expect(canonicalEvent(event).toString('utf8')).toBe(canonicalJson(members(event)));
  });

  it('is valid JSON with members sorted by name', () => {
    const parsed = JSON.parse(canonicalEvent(mailerRead).toString('utf8')) as Record<string, unknown>;
    const names = Object.keys(parsed);
    expect(names).toEqual([...names].sort());
    expect(parsed).toEqual(members(mailerRead));
  });

  // Trails written before today must keep verifying: the hash of a fixed event is pinned.
  it('hashes a fixed event to the value trails already hold', () => {
    expect(chainHash(Buffer.alloc(32, 7), mailerRead).toString('hex')).toBe('222057ac89c67e07100eaee4d3dce7a24ca082727481eb84dae4ed01c573ea95');
  });
});
