import v8 from 'node:v8';
import vm from 'node:vm';
import { startTestVault } from '../support/test-vault';

v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

const nextTurn = () => new Promise((resolve) => setTimeout(resolve, 20));

/** Whether `ref`'s target is collected; each deref() keeps it alive until the turn ends, so collection runs in a later turn. */
async function collected(ref: WeakRef<object>): Promise<boolean> {
  for (let i = 0; i < 10; i++) {
    await nextTurn();
    collectGarbage();
    await nextTurn();
    if (ref.deref() === undefined) return true;
  }
  return false;
}

/** Starts a vault, uses it, stops it; hands back only weak references to what it held. */
async function startUseAndStop(): Promise<{ pool: WeakRef<object>; metricsLeft: number }> {
  const vault = await startTestVault();
  // A failed token request, so the identity side (throttle, verifier) has been used before the stop.
  await vault.post('/oauth/token').auth('cli_nobody', 'wrong').send('grant_type=client_credentials').type('form').expect(401);
  const pool = new WeakRef(vault.vault.db);
  await vault.stop();
  return { pool, metricsLeft: vault.vault.metrics.registry.getMetricsAsArray().length };
}

describe('a stopped vault', () => {
  it('leaves nothing that keeps its database pool or its metrics in memory', async () => {
    const { pool, metricsLeft } = await startUseAndStop();
    expect(metricsLeft).toBe(0);
    expect(await collected(pool)).toBe(true);
  });
});
