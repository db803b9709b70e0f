import type { Database } from './database';

// Every client secret the API hands out is in the audit trail as one of these two actions,
// naming the client that was handed it (client_id) and the client whose secret it is (target).
// Written out, not bound, so that the planner can use the partial index over exactly these.
// For each of the two clients, every client that held its secret: itself, whoever was handed
// it, whoever was handed theirs, and so on (union, not union all: a cycle ends). An operator at
// the command line or the first start has no client id and holds nothing here. Bindings: the
// two clients as an array, then each of them again.
const HOLDERS_SHARED = `with recursive holders(client, holder) as (
   select c, c from unnest(?::text[]) as c
   union
   select h.client, e.client_id from audit_events e join holders h on e.target = h.holder
    where e.action in ('client.registered', 'client.secret_rotated') and e.client_id not like 'operator:%'
 )
 select exists (
   select 1 from holders a join holders b on a.holder = b.holder where a.client = ? and b.client = ?
 ) as shared`;

/**
 * Whose secrets passed through whose hands. A client that registered another through the API,
 * or gave it a new secret, received that secret in its answer, and so did whoever held its own
 * secret: it can act as that client. Read from the audit trail, which keeps every issue.
 */
export class CredentialLineage {
  constructor(private readonly db: Database) {}

  /**
   * Whether one principal can act as both clients: one was handed the other's secret, or a third
   * was handed both, directly or through clients it was handed. A secret replaced since still
   * counts: whoever held it could have used it to take the new one.
   */
  async oneCanActAsBoth(a: string, b: string): Promise<boolean> {
    const result = await this.db.raw<{ rows: Array<{ shared: boolean }> }>(HOLDERS_SHARED, [[a, b], a, b]);
    return result.rows[0]!.shared;
  }
}
