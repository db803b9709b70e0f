import { accessToken, callLoopback } from './clients';
import { baselineRead, loadSettings, loopbackUrl, measureBaselineRead, pick, vaultLoad, type HttpContext, type VaultChild } from './context';
import { measure, measureInTurns, type Load } from './load';
import type { Measurement } from './results';
import type { HttpScenario } from './scenario';
import { settleBaseline } from './settle';
import { below, percent, throughputShare } from './targets';

/** Windows per contender where a scenario's target is a ratio of two throughputs. */
const TURNS = 3;

const readSubject = (ids: readonly string[]): Load['request'] => ({ method: 'GET', setupRequest: (req) => ({ ...req, path: `/v1/subjects/${pick(ids)}` }) });
const readAs = (ctx: HttpContext, vault: VaultChild, ids: readonly string[]) => vaultLoad(ctx, vault, ctx.account, 'subjects:read', 'account_management', readSubject(ids));

/** Resolves every id of `ids` (the small set) once, so each vault starts a read scenario with their subject keys cached. */
export async function prewarm(ctx: HttpContext, vault: VaultChild, ids: readonly string[] = ctx.smallIds(), mailer = ctx.mailer): Promise<void> {
  const token = await accessToken(vault, ctx.env.certPem, mailer, 'emails:resolve', 'transactional_email');
  for (let i = 0; i < ids.length; i += 1000) {
    const answer = await callLoopback(vault.ready.port, ctx.env.certPem, 'POST', '/v1/emails/resolve', { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, JSON.stringify({ subject_ids: ids.slice(i, i + 1000) }));
    if (answer.status !== 200) throw new Error(`prewarm failed: ${answer.status} ${JSON.stringify(answer.body)}`);
  }
}

/** A random window of `size` distinct ids out of a shuffled copy of `ids`. */
function batchOf(shuffled: readonly string[], size: number): string[] {
  const start = Math.floor(Math.random() * (shuffled.length - size + 1));
  return shuffled.slice(start, start + size);
}

const shuffle = (ids: readonly string[]) => {
  const copy = [...ids];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
};

export const auditScenario: HttpScenario = {
  name: 'audit',
  title: 'subject reads (GET /v1/subjects/{id}, account_management), audited vs auditing off',
  async run(ctx) {
    const ids = ctx.smallIds();
    const unaudited = await ctx.unauditedVault();
    await prewarm(ctx, ctx.vault);
    await prewarm(ctx, unaudited);
    const settings = loadSettings(ctx.options);
    const baseline = await measureBaselineRead(ctx, ids);
    const [audited, off] = (await measureInTurns(
      [
        { target: 'vault', label: 'vault, audited', load: await readAs(ctx, ctx.vault, ids) },
        { target: 'vault-unaudited', label: 'vault, auditing off (bench only)', load: await readAs(ctx, unaudited, ids) },
      ],
      settings,
      TURNS,
    )) as [Measurement, Measurement];
    return {
      measurements: [baseline, audited, off],
      targets: [throughputShare('audited reads ≥ 80% of unaudited', audited, off, 0.8)],
      notes: [`${ids.length.toLocaleString('en-US')} subjects, random ids, subject keys cached in both vaults`],
    };
  },
};

export const emailScenario: HttpScenario = {
  name: 'email',
  title: 'single email resolution (GET /v1/subjects/{id}/email, transactional_email)',
  async run(ctx) {
    const ids = ctx.smallIds();
    await prewarm(ctx, ctx.vault);
    const load = await vaultLoad(ctx, ctx.vault, ctx.mailer, 'emails:resolve', 'transactional_email', {
      method: 'GET',
      setupRequest: (req) => ({ ...req, path: `/v1/subjects/${pick(ids)}/email` }),
    });
    // The ratio is the target, so the two take turns rather than run one after the other.
    const [baseline, ours] = (await measureInTurns(
      [
        { target: 'baseline', label: 'baseline: https + one PK SELECT', load: baselineRead(ctx, ids) },
        { target: 'vault', label: 'vault: GET …/email', load },
      ],
      loadSettings(ctx.options),
      TURNS,
    )) as [Measurement, Measurement];
    const floor = await measure('vault', 'vault floor: GET /healthz (no token, no query)', { ...load, request: { method: 'GET', setupRequest: (req) => ({ ...req, path: '/healthz' }) } }, loadSettings(ctx.options));
    return {
      measurements: [baseline, ours, floor],
      targets: [throughputShare('≥ 50% of baseline throughput', ours, baseline, 0.5), below('p99 < 25 ms', ours.latency.p99, 25, 'ms')],
      notes: [],
    };
  },
};

export const batchScenario: HttpScenario = {
  name: 'batch',
  title: '1,000-id batch resolution (POST /v1/emails/resolve, transactional_email)',
  itemsPerRequest: 1000,
  async run(ctx) {
    const shuffled = shuffle(ctx.smallIds());
    await prewarm(ctx, ctx.vault);
    const body = () => JSON.stringify({ subject_ids: batchOf(shuffled, 1000) });
    const baselineLoad: Load = { url: loopbackUrl(ctx.baseline.ready.port), pid: ctx.baseline.ready.pid, settle: settleBaseline, request: { method: 'POST', path: '/subjects/batch', headers: { 'content-type': 'application/json' }, setupRequest: (req) => ({ ...req, body: body() }) } };
    const vaultRequest: Load['request'] = { method: 'POST', path: '/v1/emails/resolve', headers: { 'content-type': 'application/json' }, setupRequest: (req) => ({ ...req, body: body() }) };
    const baseline = await measure('baseline', 'baseline: one SELECT … id = any(1,000 ids)', baselineLoad, loadSettings(ctx.options));
    const load = await vaultLoad(ctx, ctx.vault, ctx.mailer, 'emails:resolve', 'transactional_email', vaultRequest);
    const ours = await measure('vault', `vault: batch of 1,000, ${ctx.options.connections} connections`, load, loadSettings(ctx.options));
    const alone = await measure('vault', 'vault: batch of 1,000, 1 connection', load, loadSettings(ctx.options, { connections: 1 }));
    return {
      measurements: [baseline, ours, alone],
      targets: [
        below(`p50 < 150 ms at ${ctx.options.connections} connections`, ours.latency.p50, 150, 'ms'),
        below('p50 < 150 ms, one batch at a time', alone.latency.p50, 150, 'ms'),
      ],
      notes: [`at ${ctx.options.connections} connections a batch waits for the others: p50 ≈ connections ÷ batches per second (Little's law)`],
    };
  },
};

export const sizeScenario: HttpScenario = {
  name: 'size',
  title: 'subject reads with the small vs the large data set loaded, and the vault\'s memory',
  async run(ctx) {
    const small = ctx.smallIds();
    // Started (and loaded) before anything is measured, so its loading weighs on no window.
    const smallSet = await ctx.smallSetPair();
    await prewarm(ctx, ctx.vault);
    await prewarm(ctx, smallSet.vault, smallSet.ids, smallSet.mailer);
    const settings = loadSettings(ctx.options);
    const smallLabel = `${small.length.toLocaleString('en-US')} subjects`;
    const baselineSmall = await measureBaselineRead(ctx, small);
    const oursSmall = await measure('vault', `vault reads, ${smallLabel}`, await readAs(ctx, ctx.vault, small), settings);
    const loadRate = await ctx.memory.phase('loading subjects', () =>
      ctx.loader.loadUpTo(ctx.options.subjects, (n) => n % 50_000 === 0 && process.stdout.write(`  loaded ${n.toLocaleString('en-US')} subjects\n`)),
    );
    const total = await ctx.loader.count();
    const footprint = await ctx.loader.footprint();
    const all = ctx.loader.ids;
    const largeLabel = `${all.length.toLocaleString('en-US')} subjects`;
    const baselineLarge = { ...(await measureBaselineRead(ctx, all)), label: `baseline, ${largeLabel}` };
    // The subject-key cache grows until it holds its maximum (or the whole set): memory rising
    // then is the bound being reached, not a leak. It is filled first, and its growth reported
    // apart, so the measured window shows whether the vault holds steady once it is full.
    const cacheSize = ctx.env.config.keys.subjectKeyCacheSize;
    const fillFrom = ctx.memory.now();
    await ctx.memory.phase('filling the key cache', () => prewarm(ctx, ctx.vault, shuffle(all).slice(0, cacheSize)));
    const fill = ctx.memory.between('vault', fillFrom, ctx.memory.now());
    // Under a steady load over the large set, V8's old generation keeps growing for a few minutes
    // (to about 1.5 times what survives a full collection, and what the cache's churn leaves
    // scattered over its pages) before it holds steady: that settling is read apart from the
    // window, as the cache filling is.
    const warmFrom = ctx.memory.now();
    const warmSeconds = ctx.options.sizeWarmupSeconds;
    if (warmSeconds > 0) {
      const warmReads = await readAs(ctx, ctx.vault, all);
      await ctx.memory.phase('reading the large set before the window', () => measure('vault', 'warm-up', warmReads, { ...settings, warmupSeconds: 0, durationSeconds: warmSeconds }));
    }
    const warm = warmSeconds > 0 ? ctx.memory.between('vault', warmFrom, ctx.memory.now()) : undefined;
    const from = ctx.memory.now();
    // A token of its own: one lasts a whole measurement, not a warm-up and a measurement.
    const oursLarge = await measure('vault', `vault reads, ${largeLabel}`, await readAs(ctx, ctx.vault, all), { ...settings, durationSeconds: ctx.options.sizeDurationSeconds });
    const to = ctx.memory.now();
    const rss = ctx.memory.between('vault', from, to);
    const growth = rss ? rss.last / rss.first - 1 : 0;
    // The subject-key cache fills during the first part of a run over a large set: the second half tells a bound from a leak.
    const secondHalf = ctx.memory.between('vault', from + (to - from) / 2, to);
    // What the vault holds on to: its heap in use after a full collection, in the window's first and last minute.
    const minute = Math.min(60, (to - from) / 4);
    const heapEarly = ctx.memory.between('vault heap used', from, from + minute);
    const heapLate = ctx.memory.between('vault heap used', to - minute, to);
    const committed = ctx.memory.between('vault heap committed', from, to);
    // The figures above lie minutes apart (the loading, the cache filling, the window), and the
    // machine's share of CPU drifts over minutes. So the ratio is also measured in turns: this
    // vault and baseline, now over the large set, against a second pair over a database that holds
    // only the small set, window after window, as the other ratios are.
    const [baselineSmallTurns, baselineLargeTurns, oursSmallTurns, oursLargeTurns] = (await measureInTurns(
      [
        { target: 'baseline', label: `baseline, a database of ${smallLabel}`, load: baselineRead(ctx, smallSet.ids, smallSet.baseline) },
        { target: 'baseline', label: `baseline, ${largeLabel}`, load: baselineRead(ctx, all) },
        { target: 'vault', label: `vault reads, a database of ${smallLabel}`, load: await vaultLoad(ctx, smallSet.vault, smallSet.account, 'subjects:read', 'account_management', readSubject(smallSet.ids)) },
        { target: 'vault', label: `vault reads, ${largeLabel}`, load: await readAs(ctx, ctx.vault, all) },
      ],
      settings,
      TURNS,
    )) as [Measurement, Measurement, Measurement, Measurement];
    return {
      measurements: [
        { ...baselineSmall, label: `baseline, ${smallLabel}` },
        oursSmall,
        baselineLarge,
        oursLarge,
        baselineSmallTurns,
        baselineLargeTurns,
        oursSmallTurns,
        oursLargeTurns,
      ],
      targets: [
        throughputShare(`reads with ${largeLabel} within 10% of ${smallLabel}, in turns (a vault over each)`, oursLargeTurns, oursSmallTurns, 0.9),
        throughputShare(`the same, one vault before loading and after its ${ctx.options.sizeDurationSeconds} s window (minutes apart)`, oursLarge, oursSmall, 0.9),
        ...(rss ? [{ text: `vault memory flat over the ${ctx.options.sizeDurationSeconds} s large-set run, key cache full, after ${warmSeconds} s of reads`, met: growth <= 0.1, detail: `RSS ${rss.first} → ${rss.last} MiB (peak ${rss.peak}), ${(growth * 100).toFixed(1)}%` }] : []),
      ],
      notes: [
        `loader: ${Math.round(loadRate).toLocaleString('en-US')} subjects/s (real subject keys and sealing, batched inserts); ${total.toLocaleString('en-US')} subjects in the table, ${footprint.tablesMib.toLocaleString('en-US')} MiB with their keys and indexes; PostgreSQL's shared_buffers ${footprint.sharedBuffers}`,
        `the vault caches ${cacheSize.toLocaleString('en-US')} subject keys; reads over a larger set miss that cache`,
        `in turns, the baseline over the large set answered ${percent(baselineLargeTurns, baselineSmallTurns)} of its figure over the small set`,
        ...(fill ? [`vault RSS while its key cache filled (${Math.min(cacheSize, all.length).toLocaleString('en-US')} subjects resolved, before the window): ${fill.first} → ${fill.last} MiB`] : []),
        ...(warm ? [`vault RSS over ${warmSeconds} s of large-set reads before the window (unmeasured): ${warm.first} → ${warm.last} MiB`] : []),
        ...(secondHalf ? [`vault RSS over the second half of the large-set run: ${secondHalf.first} → ${secondHalf.last} MiB (peak ${secondHalf.peak})`] : []),
        ...(heapEarly && heapLate ? [`vault heap in use after a full collection, least in the first vs the last ${Math.round(minute)} s of the window: ${heapEarly.least} → ${heapLate.least} MiB (what it holds on to; RSS also counts the heap V8 keeps for its next allocations)`] : []),
        ...(committed && rss ? [`vault V8 heap committed over the window: ${committed.first} → ${committed.last} MiB (peak ${committed.peak}), beside RSS ${rss.first} → ${rss.last} MiB`] : []),
      ],
    };
  },
};
