import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  AlgorithmSuiteIdentifier,
  buildClient,
  CommitmentPolicy,
  getLocalCryptographicMaterialsCache,
  KeyringNode,
  NodeCachingMaterialsManager,
  RawAesKeyringNode,
  RawAesWrappingSuiteIdentifier,
  type EncryptedDataKey,
  type NodeDecryptionMaterial,
  type NodeEncryptionMaterial,
} from '@aws-crypto/client-node';
import pino from 'pino';
import { KeyHierarchy } from '../src/crypto/key-hierarchy';
import { keyMetrics } from '../src/crypto/key-metrics';
import { LocalKeyring } from '../src/crypto/local-keyring';
import type { Sealed } from '../src/crypto/sealed';
import { createMetrics, type Metrics } from '../src/observability/metrics';
import { migrateToLatest, openDatabase, type Database } from '../src/store/database';
import { freshDatabase } from './http/environment';
import { startEmbeddedPostgres, type EmbeddedCluster } from '../src/store/embedded-postgres';
import { freePort } from '../test/support/ports';

/**
 * Issue 3's benchmark: field-sized seal/open throughput of the key hierarchy against the AWS
 * Encryption SDK for JavaScript (raw AES keyring behind a caching materials manager) on the
 * same values, and how many provider calls the hierarchy makes per 100,000 seals.
 *
 * Both sides bind each value to its subject and field (our AAD, the SDK's encryption
 * context), spread over SUBJECTS subjects, one operation awaited at a time.
 */
const SUBJECTS = 1000;
const RUN_MS = Number(process.env.BENCH_RUN_MS ?? 2000);
const VALUES = [
  { name: 'email (30 B)', field: 'email', value: Buffer.from('jane.doe.1984@example-mail.com') },
  { name: 'card (16 B)', field: 'card_number', value: Buffer.from('4242424242424242') },
];
const ESDK_CALL_COUNT_SEALS = 10_000;
const RESULTS_FILE = path.resolve(__dirname, 'results', 'crypto.json');

interface Measurement {
  ops: number;
  seconds: number;
  opsPerSecond: number;
}

/** Runs `op` in batches until RUN_MS has passed, after a short warm-up. */
async function measure(op: (i: number) => Promise<unknown>): Promise<Measurement> {
  for (let i = 0; i < 2000; i++) await op(i);
  let ops = 0;
  const start = process.hrtime.bigint();
  let elapsedNs = 0n;
  while (elapsedNs < BigInt(RUN_MS) * 1_000_000n) {
    for (let i = 0; i < 500; i++) await op(ops + i);
    ops += 500;
    elapsedNs = process.hrtime.bigint() - start;
  }
  const seconds = Number(elapsedNs) / 1e9;
  return { ops, seconds, opsPerSecond: ops / seconds };
}

const subjectId = (i: number) => `sub_${String(i % SUBJECTS).padStart(6, '0')}`;

async function withDatabase<T>(use: (db: Database) => Promise<T>): Promise<T> {
  let cluster: EmbeddedCluster | undefined;
  let dir: string | undefined;
  let fresh: { url: string; drop(): Promise<void> } | undefined;
  let url: string;
  // Never the DATABASE_URL database itself: a database of this run's own on that server.
  if (process.env.DATABASE_URL) {
    fresh = await freshDatabase(process.env.DATABASE_URL);
    url = fresh.url;
  } else {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pdvault-bench-pg-'));
    fs.chmodSync(dir, 0o711);
    cluster = await startEmbeddedPostgres({ dir, port: await freePort(), database: 'pdvault_bench' });
    url = cluster.url;
  }
  const db = openDatabase({ poolMax: 4, statementTimeoutMs: 30_000, applicationName: 'pdvault-bench', migrateOnStart: true, embeddedPort: 0 }, url);
  try {
    await migrateToLatest(db);
    return await use(db);
  } finally {
    await db.destroy();
    await fresh?.drop();
    await cluster?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}

function providerCalls(metrics: Metrics): Promise<number> {
  return metrics.registry
    .getSingleMetric('pdvault_key_provider_calls_total')!
    .get()
    .then((metric) => metric.values.reduce((sum, v) => sum + v.value, 0));
}

async function benchmarkOurs(db: Database) {
  const keyringDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pdvault-bench-keyring-'));
  const logger = pino({ level: 'silent' });
  const settings = { kekCacheMaxAgeMs: 300_000, kekCacheStaleMs: 900_000, kekMaxWraps: 100_000_000, subjectKeyCacheSize: 50_000 };
  const provider = LocalKeyring.openOrCreate(keyringDir, logger);
  try {
    const setup = new KeyHierarchy(settings, { db, provider, logger });
    for (let i = 0; i < SUBJECTS; i++) await setup.createSubjectKey(subjectId(i));
    setup.close();

    // Provider calls for 100,000 seals, from a cold start (nothing cached, as after a restart).
    const metrics = createMetrics();
    const keys = new KeyHierarchy(settings, { db, provider, logger, metrics: keyMetrics(metrics) });
    for (let i = 0; i < 100_000; i++) await keys.seal(subjectId(i), 'email', VALUES[0]!.value);
    const callsPer100k = await providerCalls(metrics);

    const results: Record<string, { seal: Measurement; open: Measurement }> = {};
    for (const { name, field, value } of VALUES) {
      const sealed: Sealed[] = [];
      for (let i = 0; i < SUBJECTS; i++) sealed.push(await keys.seal(subjectId(i), field, value));
      const seal = await measure((i) => keys.seal(subjectId(i), field, value));
      const open = await measure((i) => keys.open(subjectId(i), field, sealed[i % SUBJECTS]!));
      if (!(await keys.open(subjectId(7), field, sealed[7]!)).equals(value)) throw new Error('round trip failed');
      results[name] = { seal, open };
    }
    keys.close();
    return { results, callsPer100k };
  } finally {
    fs.rmSync(keyringDir, { recursive: true, force: true });
  }
}

/** Counts how often the SDK reaches the keyring (its "provider"), i.e. how often the cache misses. */
class CountingKeyring extends KeyringNode {
  calls = 0;
  constructor(private readonly inner: KeyringNode) {
    super();
  }
  async _onEncrypt(material: NodeEncryptionMaterial): Promise<NodeEncryptionMaterial> {
    this.calls += 1;
    return this.inner.onEncrypt(material);
  }
  async _onDecrypt(material: NodeDecryptionMaterial, encryptedDataKeys: EncryptedDataKey[]): Promise<NodeDecryptionMaterial> {
    this.calls += 1;
    return this.inner.onDecrypt(material, encryptedDataKeys);
  }
}

async function benchmarkEncryptionSdk(suiteId: AlgorithmSuiteIdentifier) {
  const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
  const keyring = new CountingKeyring(
    new RawAesKeyringNode({
      keyName: 'bench-kek',
      keyNamespace: 'pdvault-bench',
      unencryptedMasterKey: crypto.randomBytes(32),
      wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
    }),
  );
  const cmm = new NodeCachingMaterialsManager({
    backingMaterials: keyring,
    cache: getLocalCryptographicMaterialsCache(4 * SUBJECTS),
    maxAge: 300_000,
    maxMessagesEncrypted: 2 ** 32 - 1,
  });
  const context = (i: number, field: string) => ({ subject: subjectId(i), field });
  const sealOne = async (i: number, field: string, value: Buffer) =>
    (await encrypt(cmm, value, { encryptionContext: context(i, field), suiteId, plaintextLength: value.length })).result;

  // The SDK is too slow for 100,000 seals in a benchmark run; its keyring calls depend on the
  // number of distinct contexts (one per subject and field), not on the number of seals.
  for (let i = 0; i < ESDK_CALL_COUNT_SEALS; i++) await sealOne(i, 'email', VALUES[0]!.value);
  const keyringCalls = keyring.calls;

  const results: Record<string, { seal: Measurement; open: Measurement }> = {};
  for (const { name, field, value } of VALUES) {
    const sealed: Buffer[] = [];
    for (let i = 0; i < SUBJECTS; i++) sealed.push(await sealOne(i, field, value));
    const seal = await measure((i) => sealOne(i, field, value));
    const open = await measure((i) => decrypt(cmm, sealed[i % SUBJECTS]!));
    const check = await decrypt(cmm, sealed[7]!);
    if (!check.plaintext.equals(value) || check.messageHeader.encryptionContext.subject !== subjectId(7)) throw new Error('round trip failed');
    results[name] = { seal, open };
  }
  return { results, keyringCalls, keyringCallsOverSeals: ESDK_CALL_COUNT_SEALS, ciphertextBytes: (await sealOne(0, 'email', VALUES[0]!.value)).length };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const ratio = (a: number, b: number) => `${(a / b).toFixed(1)}x`;

export async function runCryptoBenchmark(): Promise<void> {
  process.stdout.write(`crypto benchmark: ${SUBJECTS} subjects, ${RUN_MS} ms per measurement, node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown cpu'}\n`);
  const ours = await withDatabase(benchmarkOurs);
  const unsigned = await benchmarkEncryptionSdk(AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY);
  const signed = await benchmarkEncryptionSdk(AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY_ECDSA_P384);

  const header = ['value', 'op', 'pdvault ops/s', 'ESDK committing ops/s', 'ratio', 'ESDK default (signed) ops/s', 'ratio'];
  const rows: string[][] = [];
  for (const { name } of VALUES) {
    for (const op of ['seal', 'open'] as const) {
      const a = ours.results[name]![op].opsPerSecond;
      const b = unsigned.results[name]![op].opsPerSecond;
      const c = signed.results[name]![op].opsPerSecond;
      rows.push([name, op, fmt(a), fmt(b), ratio(a, b), fmt(c), ratio(a, c)]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  process.stdout.write(`\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${rows.map(line).join('\n')}\n`);
  process.stdout.write(
    `\nprovider calls per 100,000 seals (cold start, ${SUBJECTS} subjects): pdvault ${ours.callsPer100k}` +
      `\nESDK keyring calls per ${ESDK_CALL_COUNT_SEALS.toLocaleString('en-US')} seals (same subjects): committing ${unsigned.keyringCalls}, signed ${signed.keyringCalls} (one per subject/field encryption context)\n` +
      `ciphertext size for the 30 B email: pdvault ${VALUES[0]!.value.length + 34} B, ESDK committing ${unsigned.ciphertextBytes} B\n`,
  );

  fs.mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
  fs.writeFileSync(
    RESULTS_FILE,
    JSON.stringify(
      {
        scenario: 'crypto',
        at: new Date().toISOString(),
        node: process.version,
        cpu: os.cpus()[0]?.model,
        subjects: SUBJECTS,
        runMs: RUN_MS,
        pdvault: ours,
        encryptionSdkCommitting: unsigned,
        encryptionSdkDefaultSigned: signed,
      },
      null,
      2,
    ) + '\n',
  );
  process.stdout.write(`results written to ${path.relative(process.cwd(), RESULTS_FILE)}\n`);
}
