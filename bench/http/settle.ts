import { callLoopback } from './clients';

const BUSY_GAUGES = ['pdvault_db_pool_used', 'pdvault_db_pool_pending', 'pdvault_argon2_waiting', 'pdvault_audit_events_waiting'];

/**
 * Waits until the vault has finished what an earlier load left behind: the load generator
 * closes its sockets when a window ends, but requests already accepted keep running (a
 * backlog of 64 batch resolutions lasts seconds) and would eat into the next window.
 * Idle means every busy gauge of /metrics at 0 (or absent) twice in a row.
 */
export async function settleVault(port: number, ca: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let idleInARow = 0;
  let busy: string[] = [];
  while (idleInARow < 2) {
    if (Date.now() > deadline) throw new Error(`the vault did not become idle within ${timeoutMs / 1000} s: ${busy.join(', ')}`);
    const answer = await callLoopback(port, ca, 'GET', '/metrics', {});
    const text = typeof answer.body === 'string' ? answer.body : '';
    // A gauge the vault does not have (no audit writer when auditing is off) holds nothing up.
    busy = BUSY_GAUGES.map((gauge) => [gauge, gaugeValue(text, gauge)] as const)
      .filter(([, value]) => value !== undefined && value !== 0)
      .map(([gauge, value]) => `${gauge} ${value}`);
    idleInARow = busy.length === 0 ? idleInARow + 1 : 0;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function gaugeValue(metrics: string, name: string): number | undefined {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(metrics);
  return match ? Number(match[1]) : undefined;
}

/** The baseline holds no queue beyond the requests in flight; a moment lets them finish. */
export const settleBaseline = () => new Promise<void>((resolve) => setTimeout(resolve, 500));
