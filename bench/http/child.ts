import { fork, type ChildProcess } from 'node:child_process';

/**
 * The benchmark's child processes (the vault, the baseline server) and their IPC: one start
 * message answered by `ready`, then calls answered by `reply`, then `stop`.
 */
type FromChild =
  | { type: 'ready'; ready: unknown }
  | { type: 'failed'; message: string }
  | { type: 'reply'; id: number; result?: unknown; error?: string };

type ToChild = { type: 'start'; start: unknown } | { type: 'call'; id: number; op: string; args: unknown } | { type: 'stop' };

export class BenchChild<Ready> {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();

  private constructor(
    private readonly child: ChildProcess,
    readonly ready: Ready,
  ) {
    child.on('message', (message: FromChild) => {
      if (message.type !== 'reply') return;
      const waiting = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.error !== undefined) waiting?.reject(new Error(message.error));
      else waiting?.resolve(message.result);
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Forks `script` under swc (as `npm run bench` runs), sends it `start` and waits for `ready`. */
  static async start<Ready>(script: string, start: unknown, nodeFlags: string[] = []): Promise<BenchChild<Ready>> {
    const child = fork(script, [], {
      execArgv: ['-r', '@swc-node/register', ...nodeFlags],
      // The vault logs every request at its production level; the benchmark keeps that cost but not the lines.
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    const ready = await new Promise<Ready>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`${script} exited with ${code} before it was ready`));
      child.once('exit', onExit);
      child.on('message', (message: FromChild) => {
        if (message.type === 'ready') resolve(message.ready as Ready);
        if (message.type === 'failed') reject(new Error(`${script}: ${message.message}`));
        if (message.type !== 'reply') child.off('exit', onExit);
      });
      send(child, { type: 'start', start });
    });
    return new BenchChild(child, ready);
  }

  call<T>(op: string, args: unknown): Promise<T> {
    // Sending to a child that has gone would emit an 'error' nobody listens for.
    if (!this.child.connected) return Promise.reject(new Error(`the child has exited; ${op} not sent`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      send(this.child, { type: 'call', id, op, args });
    });
  }

  /** Asks the child to stop cleanly; kills it (by its own pid) if it has not exited in time. */
  async stop(timeoutMs = 15_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    send(this.child, { type: 'stop' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }
}

function send(child: ChildProcess, message: ToChild): void {
  child.send(message);
}

/** The child's side: answers start, calls and stop through `handlers`. */
export function serveParent<Start, Ready>(handlers: {
  start(start: Start): Promise<Ready>;
  calls: Record<string, (args: never) => Promise<unknown>>;
  stop(): Promise<void>;
}): void {
  const reply = (message: FromChild) => process.send!(message);
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= handlers.stop().finally(() => process.exit(0)));
  process.on('message', (message: ToChild) => {
    if (message.type === 'start') {
      handlers.start(message.start as Start).then(
        (ready) => reply({ type: 'ready', ready }),
        (error: unknown) => {
          reply({ type: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
          setTimeout(() => process.exit(1), 100);
        },
      );
    } else if (message.type === 'call') {
      const call = handlers.calls[message.op];
      if (!call) return reply({ type: 'reply', id: message.id, error: `unknown call ${message.op}` });
      call(message.args as never).then(
        (result) => reply({ type: 'reply', id: message.id, result }),
        (error: unknown) => reply({ type: 'reply', id: message.id, error: error instanceof Error ? error.message : String(error) }),
      );
    } else {
      void stop();
    }
  });
  // The parent going away (Ctrl-C, a crash) must not leave a vault or a pool behind.
  process.on('disconnect', () => void stop());
}
