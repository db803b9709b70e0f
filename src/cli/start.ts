import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, type Config } from '../config/config';
import { createLogger } from '../observability/logger';
import { startEmbeddedPostgres, type EmbeddedCluster } from '../store/embedded-postgres';
import { ensureDevelopmentCertificate } from './development-certificate';
import { startVault, type RunningVault } from './vault';

/**
 * `pdvault start`: in development, fills in what production must be given (an embedded
 * PostgreSQL and a self-signed certificate in the data folder), then starts the vault and
 * stops it cleanly on SIGTERM or SIGINT.
 */
/** Beyond the request grace, what the last audit commit, the checkpoint and the pool get to finish. */
const SHUTDOWN_MARGIN_MS = 15_000;

export async function startCommand(): Promise<void> {
  const config = loadConfig();
  const bootLog = createLogger(config.log.level);
  let embedded: EmbeddedCluster | undefined;
  const certificateGenerated = !config.tls.certFile;

  // Signals are handled from the first moment, so a stop that arrives while the embedded
  // PostgreSQL starts or the banner prints is as clean as one that arrives later.
  let stopping = false;
  const running: { vault?: RunningVault } = {};
  const stop = async (signal: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    running.vault?.logger.info({ signal }, 'shutting down');
    // A dependency that stopped answering (a database dropping packets) must not keep the
    // process alive: past the grace for requests and a margin for the last audit commit, it exits.
    const deadline = setTimeout(() => {
      process.stderr.write('pdvault: shutdown did not finish in time; exiting\n');
      process.exit(1);
    }, config.http.shutdownGraceMs + SHUTDOWN_MARGIN_MS);
    deadline.unref();
    try {
      await running.vault?.stop();
      await embedded?.stop();
    } catch (error) {
      process.stderr.write(`pdvault: shutdown failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    }
    process.exit(exitCode);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  if (config.mode === 'development') {
    fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o711 });
    // An existing folder too: others may pass through it, not list or write it.
    fs.chmodSync(config.dataDir, 0o711);
    bootLog.warn({ data_dir: config.dataDir }, 'DEVELOPMENT MODE: embedded PostgreSQL and a self-signed certificate; do not hold real personal data');
    embedded = await provideEmbeddedDatabase(config, bootLog);
    // The vault cannot serve without it, and nothing would start it again: stop too, and say why,
    // so whatever restarts the vault restarts both.
    void embedded?.ended.then((code) => {
      // A Ctrl-C reaches the server too (the same process group): it stopping then is no surprise.
      if (stopping) return;
      (running.vault?.logger ?? bootLog).error({ exit_code: code }, 'the embedded PostgreSQL stopped unexpectedly; the vault stops too');
      void stop('embedded PostgreSQL exited', 1);
    });
    await provideDevelopmentCertificate(config, bootLog);
  }

  // A start-up step that fails because a stop closed the pool under it is not a failure to
  // report: the stop in progress decides the exit status.
  const unlessStopping = (error: unknown): Promise<never> => (stopping ? new Promise<never>(() => undefined) : Promise.reject(error));

  const vault = await startVault(config).catch(async (error) => {
    if (!stopping) await embedded?.stop();
    return unlessStopping(error);
  });
  running.vault = vault;
  process.stdout.write(`pdvault listening on ${vault.url}\n`);
  if (config.mode === 'development') await printFirstAdminClient(vault).catch(unlessStopping);
  if (config.mode === 'development' && certificateGenerated) {
    process.stdout.write(`  certificate: ${config.tls.certFile}\n  try: curl --cacert ${config.tls.certFile} ${vault.url}/healthz\n`);
  }
}

/** Development's first start: an admin client, its credentials shown here once and never again. */
async function printFirstAdminClient(vault: RunningVault): Promise<void> {
  const admin = await vault.identity.clients.registerFirstAdmin();
  if (!admin) return;
  process.stdout.write(
    'created the first admin client; its secret is shown only now:\n' +
      JSON.stringify({ client_id: admin.client_id, client_secret: admin.client_secret }) +
      `\n  scopes: ${admin.client.scopes.join(' ')}\n`,
  );
}

async function provideEmbeddedDatabase(config: Config, log: ReturnType<typeof createLogger>): Promise<EmbeddedCluster | undefined> {
  if (config.database.url) return undefined;
  const cluster = await startEmbeddedPostgres({
    dir: path.join(config.dataDir, 'postgres'),
    port: config.database.embeddedPort,
    database: 'pdvault',
    onLog: (line) => log.debug({ postgres: line.trim() }, 'embedded postgres'),
    onNotice: (message) => log.warn(message),
  });
  config.database.url = cluster.url;
  return cluster;
}

async function provideDevelopmentCertificate(config: Config, log: ReturnType<typeof createLogger>): Promise<void> {
  if (config.tls.certFile && config.tls.keyFile) return;
  const files = await ensureDevelopmentCertificate(path.join(config.dataDir, 'tls'));
  if (files.created) log.info({ cert: files.certFile }, 'generated a self-signed development certificate');
  config.tls.certFile = files.certFile;
  config.tls.keyFile = files.keyFile;
}
