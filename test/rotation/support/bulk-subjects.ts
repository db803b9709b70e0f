import crypto from 'node:crypto';
import type { RunningVault } from '../../../src/cli/vault';

export interface BulkSubject {
  id: string;
  email: string;
}

/**
 * Many subjects at once, real but fast: keys created and wrapped by the vault's own key
 * hierarchy in bulk, each email sealed by it, rows written with one insert per chunk.
 */
export async function insertSubjects(vault: RunningVault, count: number, chunk = 2000): Promise<BulkSubject[]> {
  const subjects: BulkSubject[] = [];
  for (let start = 0; start < count; start += chunk) {
    const batch = Array.from({ length: Math.min(chunk, count - start) }, (_, i) => ({
      id: `sub_${crypto.randomBytes(16).toString('base64url')}`,
      email: `bulk.${start + i}.${crypto.randomBytes(3).toString('hex')}@example.com`,
    }));
    await vault.keys.createSubjectKeys(batch.map((s) => s.id));
    const rows = [];
    for (const subject of batch) rows.push({ id: subject.id, email: await vault.keys.seal(subject.id, 'email', subject.email), preferences: '{}' });
    await vault.db('subjects').insert(rows);
    subjects.push(...batch);
  }
  return subjects;
}

/** Every subject's email, opened by the vault: what it holds must be byte-identical to what went in. */
export async function emailsMismatching(vault: RunningVault, subjects: readonly BulkSubject[]): Promise<string[]> {
  const rows = await vault.db('subjects').select('id', 'email').whereIn('id', subjects.map((s) => s.id));
  const stored = new Map(rows.map((row: { id: string; email: Buffer }) => [row.id, row.email]));
  const wrong: string[] = [];
  for (const subject of subjects) {
    const sealed = stored.get(subject.id);
    const opened = sealed ? await vault.keys.open(subject.id, 'email', sealed as never) : undefined;
    if (!opened || !opened.equals(Buffer.from(subject.email, 'utf8'))) wrong.push(subject.id);
  }
  return wrong;
}
