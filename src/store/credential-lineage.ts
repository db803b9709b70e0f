import type { Database } from './database';

// Every client secret the API hands out is recorded in the audit trail as one of these, naming
// the client that was handed it (client_id) and the client whose secret it is (target).
const SECRET_ISSUED = ['client.registered', 'client.secret_rotated'];

// The clients the holder was handed a secret of, then those each of them was, and so on (union,
// not union all: a cycle ends); then whether the client is among them. Each step follows the
// trail's client index from the holder. Bindings: holder, the actions, client.
const HANDED_DOWN = `with recursive handed(id) as (
   select ?::text
   union
   select e.target from audit_events e join handed h on e.client_id = h.id
    where e.action = any(?::text[]) and e.target is not null
 )
 select exists (select 1 from handed where id = ?) as handed`;

/**
 * Whose secrets passed through whose hands. A client that registered another through the API,
 * or gave it a new secret, received that secret in its answer, and so did whoever held its own
 * secret: it can act as that client. Read from the audit trail, which keeps every issue.
 */
export class CredentialLineage {
  constructor(private readonly db: Database) {}

  /** Whether either client was handed the other's secret, directly or through clients it was handed. */
  async eitherHolds(a: string, b: string): Promise<boolean> {
    return (await this.handedDown(a, b)) || (await this.handedDown(b, a));
  }

  private async handedDown(holder: string, client: string): Promise<boolean> {
    const result = await this.db.raw<{ rows: Array<{ handed: boolean }> }>(HANDED_DOWN, [holder, SECRET_ISSUED, client]);
    return result.rows[0]!.handed;
  }
}
