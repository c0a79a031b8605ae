/**
 * A tiny request/response channel over Node's IPC between the bench runner
 * and its child processes (hub, simulated agents). One JSON message each
 * way; children may also push unsolicited `event` messages.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export interface IpcRequest {
  id: number;
  cmd: string;
  args: unknown;
}
export type IpcResponse = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };
export interface IpcEvent {
  event: string;
  data: unknown;
}

export type CommandHandlers = Record<string, (args: never) => unknown>;

/** Child side: answer the parent's commands; an unknown command or a throw becomes {ok:false}. */
export function serveParent(handlers: CommandHandlers): void {
  if (!process.send) throw new Error('this module runs as a child of bench/run.ts (no IPC channel)');
  process.on('message', (msg: IpcRequest) => {
    void (async () => {
      let reply: IpcResponse;
      try {
        const handler = handlers[msg.cmd] as ((args: unknown) => unknown) | undefined;
        if (!handler) throw new Error(`unknown command ${msg.cmd}`);
        reply = { id: msg.id, ok: true, result: await handler(msg.args) };
      } catch (err) {
        reply = { id: msg.id, ok: false, error: (err as Error).stack ?? String(err) };
      }
      process.send?.(reply);
    })();
  });
  // The parent went away (Ctrl-C, crash): do not linger holding thousands of sockets.
  process.on('disconnect', () => process.exit(0));
}

export function emitToParent(event: string, data: unknown): void {
  process.send?.({ event, data } satisfies IpcEvent);
}

export interface ChildOptions {
  /** Extra node flags, e.g. --expose-gc. */
  nodeFlags?: string[];
  env?: NodeJS.ProcessEnv;
  /**
   * Start the child through `sh -c 'ulimit -n N; exec node …'`: node cannot raise
   * its own fd limit, but a shell may raise the soft limit up to the hard one.
   */
  fdLimit?: number;
}

/** Parent side: one forked child running a TypeScript module through tsx. */
export class BenchChild {
  readonly proc: ChildProcess;
  readonly name: string;
  #next = 1;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly #exited: Promise<number | null>;

  constructor(name: string, moduleUrl: URL, argv: string[], opts: ChildOptions = {}) {
    this.name = name;
    const nodeArgs = ['--import', 'tsx', ...(opts.nodeFlags ?? []), fileURLToPath(moduleUrl), ...argv];
    const [command, args] =
      opts.fdLimit !== undefined
        ? ['/bin/sh', ['-c', `ulimit -n ${Math.floor(opts.fdLimit)} && exec "$0" "$@"`, process.execPath, ...nodeArgs]]
        : [process.execPath, nodeArgs];
    // The IPC channel (NODE_CHANNEL_FD) survives the shell's exec.
    this.proc = spawn(command, args, { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.proc.on('message', (msg: IpcResponse | IpcEvent) => {
      if ('id' in msg) {
        const p = this.#pending.get(msg.id);
        if (!p) return;
        this.#pending.delete(msg.id);
        if (msg.ok) p.resolve(msg.result);
        else p.reject(new Error(`${name}: ${msg.error}`));
      }
    });
    this.#exited = new Promise((resolve) => {
      this.proc.once('exit', (code) => {
        for (const p of this.#pending.values()) p.reject(new Error(`${name} exited (code ${code}) during a command`));
        this.#pending.clear();
        resolve(code);
      });
    });
  }

  /** Resolves with the data of the next `event` message of that name. */
  async event<T>(event: string, timeoutMs: number): Promise<T> {
    const signal = AbortSignal.timeout(timeoutMs);
    for (;;) {
      const [msg] = (await Promise.race([
        once(this.proc, 'message', { signal }),
        this.#exited.then((code) => {
          throw new Error(`${this.name} exited (code ${code}) before "${event}"`);
        }),
      ])) as [IpcResponse | IpcEvent];
      if ('event' in msg && msg.event === event) return msg.data as T;
    }
  }

  call<T>(cmd: string, args: unknown = {}, timeoutMs = 60_000): Promise<T> {
    const id = this.#next++;
    if (!this.alive) return Promise.reject(new Error(`${this.name} is not running ("${cmd}")`));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${this.name}: "${cmd}" got no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (v) => (clearTimeout(timer), resolve(v as T)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.proc.send({ id, cmd, args } satisfies IpcRequest);
    });
  }

  /** Waits for the child to exit; kills it (SIGKILL) after the grace period. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await this.#exited;
    clearTimeout(timer);
  }

  get alive(): boolean {
    return this.proc.connected && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  kill(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }

  get exited(): Promise<number | null> {
    return this.#exited;
  }
}
