/**
 * Child process: one vault, started as production starts it (startVault with a config that
 * loadConfig builds from the environment object the benchmark passes). `unaudited` gives the
 * bench-only vault whose audit writer drops events.
 */
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { loadConfig } from '../../src/config/config';
import { startVault, type RunningVault } from '../../src/cli/vault';
import type { ClientRegistration } from '../../src/identity/client-registry';
import { serveParent } from './child';
import type { HeapFigures } from './memory';

export interface VaultStart {
  env: Record<string, string>;
  unaudited: boolean;
}

export interface VaultReady {
  port: number;
  pid: number;
  routes: Array<{ path: string; methods: string[] }>;
}

export interface RegisteredClient {
  clientId: string;
  clientSecret: string;
}

let vault: RunningVault | undefined;

// Heap in use between collections counts garbage too; just after a full (mark-compact) one it is
// what the process still holds.
let heapAfterFullGc: number | undefined;
new PerformanceObserver((entries) => {
  if (entries.getEntries().some((entry) => (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)) {
    heapAfterFullGc = process.memoryUsage().heapUsed;
  }
}).observe({ entryTypes: ['gc'] });

serveParent<VaultStart, VaultReady>({
  async start({ env, unaudited }) {
    vault = await startVault(loadConfig(env), { unauditedForBenchmark: unaudited });
    return { port: vault.port, pid: process.pid, routes: vault.routes.entries.map((e) => ({ path: e.path, methods: [...e.methods] })) };
  },
  calls: {
    /**
     * For the memory sampler, in bytes: the V8 heap in use just after the latest full collection
     * (what the vault holds on to), and the heap V8 has committed now (what RSS follows).
     */
    async heap(): Promise<HeapFigures> {
      const now = process.memoryUsage();
      return { used: heapAfterFullGc ?? now.heapUsed, committed: now.heapTotal };
    },
    async register(registration: ClientRegistration): Promise<RegisteredClient> {
      const issued = await vault!.identity.clients.register(registration, { via: 'cli' });
      return { clientId: issued.client_id, clientSecret: issued.client_secret };
    },
  },
  async stop() {
    const running = vault;
    vault = undefined;
    await running?.stop();
  },
});
