/**
 * Waits until `condition` holds, checking every 25 ms for at most 5 s. For what the vault learns
 * asynchronously (a change announced by PostgreSQL, a session that reconnects), never for speed.
 */
export async function eventually(condition: () => boolean | Promise<boolean>, what = 'condition'): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${what} not reached within 5 s`);
}
