import crypto from 'node:crypto';
import ipaddr from 'ipaddr.js';
import { RateLimiterPostgres, type RateLimiterRes } from 'rate-limiter-flexible';
import type { IdentitySettings } from '../config/config';
import { purgeExpiredAuthFailures } from '../store/auth-failures';
import type { Database } from '../store/database';
import { temporarilyUnavailable } from './oauth-error';

/**
 * Throttles failed client authentication per client id from one source, and per source. The
 * counters live in PostgreSQL (table `auth_failures`), so the limits hold across every instance.
 * A throttled client id is refused from that source before its secret is even checked: once
 * blocked, even the right secret waits there for the window to end, so guessing gains nothing.
 *
 * Not per client id alone: client ids are not secret (every token and audit event carries one),
 * so such a counter let anyone keep the mailer or billing from its tokens with a few wrong
 * guesses a window. A secret of 256 random bits needs no counter across sources to stay unguessed.
 * A source is an address, or a global IPv6 address's /64 (`sourceOf`).
 */
export class AuthThrottle {
  private readonly perClient: RateLimiterPostgres;
  private readonly perAddress: RateLimiterPostgres;
  private readonly inFlight = new InFlight();
  private purging?: NodeJS.Timeout;

  constructor(
    private readonly db: Database,
    settings: IdentitySettings,
    private readonly waiting: WaitBounds = WAIT_BOUNDS,
  ) {
    // The library's own purge reschedules itself for ever, and so keeps a stopped vault in memory; the vault runs its own.
    const common = { storeClient: db, storeType: 'knex', tableName: 'auth_failures', tableCreated: true, clearExpiredByTimeout: false, duration: settings.authFailureWindowSeconds };
    this.perClient = new RateLimiterPostgres({ ...common, keyPrefix: 'client', points: settings.authFailuresPerClient });
    this.perAddress = new RateLimiterPostgres({ ...common, keyPrefix: 'address', points: settings.authFailuresPerAddress });
  }

  /** Attempts on this instance waiting for room under a limit. */
  get attemptsWaiting(): number {
    return this.inFlight.waiting;
  }

  /** Every five minutes, removes counters that expired over an hour ago (both kinds share the table). */
  start(): void {
    this.purging ??= setInterval(() => void this.purgeExpired(), PURGE_INTERVAL_MS).unref();
  }

  stop(): void {
    clearInterval(this.purging);
    this.purging = undefined;
  }

  /** Never fails: a purge that cannot run leaves counters that have no effect, and the next one takes them. */
  async purgeExpired(now = Date.now()): Promise<void> {
    await purgeExpiredAuthFailures(this.db, now - PURGE_AFTER_MS).catch(() => undefined);
  }

  /**
   * Admits one attempt to have its secret checked, and answers how to end it: `failed()` counts
   * it, `settled()` (success, or no verdict) does not. Throws 429 with `Retry-After` when either
   * counter has reached its limit.
   * The counters only hold attempts already judged; an attempt waiting for argon2 is counted in
   * this instance, and an attempt waits while the failures and the attempts in flight would
   * reach a limit together. Without that, every attempt of a burst would pass the counters while
   * the others waited for argon2: hundreds of guesses where the limit allows ten. A burst of good
   * secrets (fifty workers starting at once) waits its turn rather than being refused. Across
   * instances, each admits up to the limit at once.
   */
  async admit(clientId: string, address: string): Promise<AuthAttempt> {
    const source = sourceOf(address);
    const keys = { client: clientKey(clientId, source), source };
    const counted = [`client:${keys.client}`, `source:${source}`];
    const waitUntil = Date.now() + this.waiting.maxWaitMs;
    // Watched from the first read to the admission: an attempt that settles while the counters
    // are read may be in neither (its failure written after the read began, its in-flight count
    // gone before it ended), so a settle in between means reading again.
    let settles = this.inFlight.watch(counted);
    try {
      for (;;) {
        const [client, fromSource] = await Promise.all([this.perClient.get(keys.client), this.perAddress.get(source)]);
        const now = this.inFlight.settles(counted);
        if (now !== settles) {
          settles = now;
          continue;
        }
        const blocked = [exhausted(client, this.perClient.points), exhausted(fromSource, this.perAddress.points)].filter((ms): ms is number => ms !== undefined);
        if (blocked.length) {
          throw temporarilyUnavailable(429, Math.max(...blocked) / 1000, 'Too many failed authentications; retry later');
        }
        const room =
          (client?.consumedPoints ?? 0) + this.inFlight.count(counted[0]!) < this.perClient.points &&
          (fromSource?.consumedPoints ?? 0) + this.inFlight.count(counted[1]!) < this.perAddress.points;
        if (room) return this.attempt(counted, keys);
        // Waiting is bounded, like the argon2 queue behind it: a flood is refused, not parked.
        const remainingMs = waitUntil - Date.now();
        if (remainingMs <= 0 || this.inFlight.waiting >= this.waiting.maxWaiting) throw temporarilyUnavailable(503, 1, 'Too many client authentications at once; retry shortly');
        await this.inFlight.nextSettled(counted, remainingMs);
        // The next read begins after that settle.
        settles = this.inFlight.settles(counted);
      }
    } finally {
      this.inFlight.unwatch(counted);
    }
  }

  private attempt(counted: string[], keys: { client: string; source: string }): AuthAttempt {
    for (const key of counted) this.inFlight.add(key);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      for (const key of counted) this.inFlight.remove(key);
    };
    return {
      // Counted in the database before it leaves the in-flight count, so a waiting attempt re-reads it.
      failed: async () => {
        try {
          await Promise.all([this.perClient.penalty(keys.client), this.perAddress.penalty(keys.source)]);
        } finally {
          end();
        }
      },
      settled: end,
    };
  }
}

/** An attempt admitted by the throttle, until it ends one way or the other. */
export interface AuthAttempt {
  /** The secret was wrong (or the client unusable): counted as a failure. */
  failed(): Promise<void>;
  /** The secret was right, or no verdict was reached: not counted. */
  settled(): void;
}

/**
 * Attempts in flight on this instance, by counter key, and how many have settled while someone
 * watched (an attempt reading the counters, or waiting); settling one wakes those waiting on its
 * keys. A key's entry lasts while an attempt is in flight on it or watches it.
 */
class InFlight {
  private readonly entries = new Map<string, { inFlight: number; settled: number; watchers: number; wake: Set<() => void> }>();
  waiting = 0;

  count(key: string): number {
    return this.entries.get(key)?.inFlight ?? 0;
  }

  /** Starts watching `keys`; the number settled on them so far, to compare with `settles` later. */
  watch(keys: readonly string[]): number {
    for (const key of keys) this.entry(key).watchers += 1;
    return this.settles(keys);
  }

  unwatch(keys: readonly string[]): void {
    for (const key of keys) {
      this.entry(key).watchers -= 1;
      this.prune(key);
    }
  }

  settles(keys: readonly string[]): number {
    return keys.reduce((sum, key) => sum + (this.entries.get(key)?.settled ?? 0), 0);
  }

  add(key: string): void {
    this.entry(key).inFlight += 1;
  }

  remove(key: string): void {
    const entry = this.entry(key);
    entry.inFlight -= 1;
    entry.settled += 1;
    for (const wake of [...entry.wake]) wake();
    this.prune(key);
  }

  /** Resolves when an attempt on one of `keys` settles, or after `timeoutMs`; the keys must be watched. */
  nextSettled(keys: readonly string[], timeoutMs: number): Promise<void> {
    this.waiting += 1;
    return new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        for (const key of keys) this.entries.get(key)?.wake.delete(wake);
        this.waiting -= 1;
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      for (const key of keys) this.entry(key).wake.add(wake);
    });
  }

  private entry(key: string) {
    let entry = this.entries.get(key);
    if (!entry) this.entries.set(key, (entry = { inFlight: 0, settled: 0, watchers: 0, wake: new Set() }));
    return entry;
  }

  private prune(key: string): void {
    const entry = this.entries.get(key);
    if (entry && entry.inFlight === 0 && entry.watchers === 0) this.entries.delete(key);
  }
}

/** How long an attempt waits for room, and how many may wait on one instance, before 503. */
export interface WaitBounds {
  maxWaitMs: number;
  maxWaiting: number;
}

const WAIT_BOUNDS: WaitBounds = { maxWaitMs: 10_000, maxWaiting: 256 };

const PURGE_INTERVAL_MS = 5 * 60_000;
const PURGE_AFTER_MS = 60 * 60_000;

function exhausted(res: RateLimiterRes | null, limit: number): number | undefined {
  return res && res.consumedPoints >= limit ? res.msBeforeNext : undefined;
}

// Client ids arrive from the network: hash them so any string fits the key column.
const clientKey = (clientId: string, source: string) => crypto.createHash('sha256').update(`${clientId}\n${source}`).digest('base64url');

/**
 * What one party controls of an address: an IPv4 address (IPv4-mapped ones included); a global
 * IPv6 address's /64, which one host on the internet can hop across at will; any other IPv6
 * address whole. Private networks (unique-local, link-local) are the vault's own callers, where
 * a /64 can be a whole node's pods: one misbehaving pod must not throttle its neighbours.
 */
export function sourceOf(address: string): string {
  if (!ipaddr.isValid(address)) return address.slice(0, 64);
  const parsed = ipaddr.process(address);
  if (parsed.kind() === 'ipv4' || parsed.range() !== 'unicast') return parsed.toNormalizedString();
  const network = (parsed as ipaddr.IPv6).parts.slice(0, 4).map((part) => part.toString(16));
  return `${network.join(':')}::/64`;
}
