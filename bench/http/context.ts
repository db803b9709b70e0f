import type { BaselineReady } from './baseline-server';
import type { BenchChild } from './child';
import { accessToken } from './clients';
import type { BenchEnvironment } from './environment';
import { measure, type Load, type LoadSettings } from './load';
import type { MemorySampler } from './memory';
import type { HttpBenchOptions } from './options';
import type { Measurement } from './results';
import type { SubjectLoader } from './subject-loader';
import { settleBaseline, settleVault } from './settle';
import type { RegisteredClient, VaultReady } from './vault-runner';

export type VaultChild = BenchChild<VaultReady>;

/**
 * A second vault and baseline, over a database of their own that holds only the small set:
 * the size scenario measures them in turns with the first pair once it holds the large set.
 */
export interface SmallSetPair {
  vault: VaultChild;
  baseline: BenchChild<BaselineReady>;
  account: RegisteredClient;
  mailer: RegisteredClient;
  ids: string[];
}

/** What every HTTP scenario gets: the running processes, the data, the clients. */
export interface HttpContext {
  env: BenchEnvironment;
  options: HttpBenchOptions;
  baseline: BenchChild<BaselineReady>;
  vault: VaultChild;
  /** The bench-only vault that drops audit events; started on first use. */
  unauditedVault(): Promise<VaultChild>;
  /** Started and loaded on first use; stops the unaudited vault, so the server's connections stay under its default 100. */
  smallSetPair(): Promise<SmallSetPair>;
  loader: SubjectLoader;
  memory: MemorySampler;
  account: RegisteredClient;
  mailer: RegisteredClient;
  /** The small data set (the first `smallSubjects` loaded). */
  smallIds(): string[];
}

export const loopbackUrl = (port: number) => `https://127.0.0.1:${port}`;

export function loadSettings(options: HttpBenchOptions, overrides: Partial<LoadSettings> = {}): LoadSettings {
  return { connections: options.connections, durationSeconds: options.durationSeconds, warmupSeconds: options.warmupSeconds, ...overrides };
}

export const pick = (ids: readonly string[]) => ids[Math.floor(Math.random() * ids.length)]!;

/** The baseline's answer to one primary-key SELECT of a random subject of `ids`. */
export function baselineRead(ctx: HttpContext, ids: readonly string[], baseline: BenchChild<BaselineReady> = ctx.baseline): Load {
  return {
    url: loopbackUrl(baseline.ready.port),
    pid: baseline.ready.pid,
    settle: settleBaseline,
    request: { method: 'GET', setupRequest: (req) => ({ ...req, path: `/subjects/${pick(ids)}` }) },
  };
}

export function measureBaselineRead(ctx: HttpContext, ids: readonly string[], overrides: Partial<LoadSettings> = {}): Promise<Measurement> {
  return measure('baseline', 'baseline: https + one PK SELECT', baselineRead(ctx, ids), loadSettings(ctx.options, overrides));
}

/** A load on a vault with a fresh token of the given scope and purpose. */
export async function vaultLoad(ctx: HttpContext, vault: VaultChild, client: RegisteredClient, scope: string, purpose: string, request: Load['request']): Promise<Load> {
  const token = await accessToken(vault, ctx.env.certPem, client, scope, purpose);
  return { url: loopbackUrl(vault.ready.port), pid: vault.ready.pid, headers: { authorization: `Bearer ${token}` }, request, settle: settler(ctx, vault) };
}

export const settler = (ctx: HttpContext, vault: VaultChild) => () => settleVault(vault.ready.port, ctx.env.certPem);

export const hasRoute = (vault: VaultChild, path: string, method: string) =>
  vault.ready.routes.some((route) => route.path === path && route.methods.includes(method));
