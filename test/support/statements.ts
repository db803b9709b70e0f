import type { Database } from '../../src/store/database';

/** The SQL `db` sends while `during` runs (knex's `query` event, which the direct session statements announce too). */
export async function statementsDuring(db: Database, during: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const listener = (query: { sql: string }) => seen.push(query.sql);
  db.on('query', listener);
  try {
    await during();
  } finally {
    db.removeListener('query', listener);
  }
  return seen;
}
