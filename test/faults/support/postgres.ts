import { spawn } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../../..');

export interface PostgresProcess {
  url: string;
  /** Stops PostgreSQL (a fast shutdown: sessions are cut) and waits for the process to end. */
  stop(): Promise<void>;
  /** The server's log lines so far, as the vault receives them. */
  log(): string;
  /** Kills the process that started PostgreSQL (SIGKILL), as a killed vault dies: the server is left running. */
  abandon(): Promise<void>;
}

/** An embedded PostgreSQL with its cluster in `dir`, on loopback `port`; a second start on the same dir reuses the cluster. */
export function startPostgres(dir: string, port: number, database: string): Promise<PostgresProcess> {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', path.join(__dirname, 'postgres-server.ts'), dir, String(port), database], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`embedded PostgreSQL did not start: ${err}`));
    }, 60_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const ready = out.match(/^ready (\S+)$/m);
      if (!ready) return;
      clearTimeout(timer);
      resolve({
        url: ready[1]!,
        async stop() {
          child.stdin!.end();
          await exited;
        },
        log: () => err,
        async abandon() {
          child.kill('SIGKILL');
          await exited;
        },
      });
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`embedded PostgreSQL exited with ${code} before it was ready: ${err}`));
    });
  });
}
