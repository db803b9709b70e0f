import argon2 from 'argon2';
import type { Counter } from 'prom-client';
import type { Metrics } from '../observability/metrics';
import { temporarilyUnavailable } from './oauth-error';

/** OWASP's argon2id recommendation (m = 19 MiB, t = 2, p = 1), the minimum the vault uses. */
export const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/**
 * Every argon2 computation goes through here: at most `concurrency` run at once and at most
 * `queueLimit` wait, so a flood of token requests cannot exhaust memory or the thread pool.
 * Beyond the queue, requests are refused at once with 503 and `Retry-After`.
 */
export class Argon2Gate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly operations?: Counter<'operation'>;

  constructor(
    private readonly concurrency: number,
    private readonly queueLimit: number,
    metrics?: Metrics,
  ) {
    this.operations = metrics?.counter('pdvault_argon2_operations_total', 'argon2id hashes and verifications computed.', ['operation']);
    metrics?.gauge('pdvault_argon2_waiting', 'argon2 computations waiting for a slot.', () => this.waiting.length);
  }

  hash(secret: string): Promise<string> {
    return this.run('hash', () => argon2.hash(secret, ARGON2_OPTIONS));
  }

  verify(hash: string, secret: string): Promise<boolean> {
    return this.run('verify', () => argon2.verify(hash, secret));
  }

  private async run<T>(operation: 'hash' | 'verify', work: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.queueLimit) throw temporarilyUnavailable(503, 1, 'The vault is busy; retry shortly');
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running += 1;
    }
    try {
      this.operations?.inc({ operation });
      return await work();
    } finally {
      // Hand the slot straight to the next waiter, or free it.
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    }
  }
}
