import { ReconSyncError } from '../../../protocol/errors.ts';

/** Why an admin-channel call failed; the code is always ADMIN_CHANNEL, this says what to check. */
export type AdminFailure = 'config' | 'connect' | 'auth' | 'timeout' | 'protocol' | 'closed' | 'http';

/** An ADMIN_CHANNEL error with the failing step. Wrong passwords and missing config are not retryable. */
export class AdminChannelError extends ReconSyncError {
  readonly reason: AdminFailure;
  constructor(reason: AdminFailure, message: string, options?: { cause?: unknown }) {
    super('ADMIN_CHANNEL', message, { ...options, retryable: reason !== 'auth' && reason !== 'config' });
    this.name = 'AdminChannelError';
    this.reason = reason;
  }
}

/** Time limits of every admin client (style.md §8: named, with defaults in one place). */
export interface AdminTimeouts {
  /** TCP connect / WebSocket handshake / HTTP response headers. */
  connectTimeoutMs: number;
  /** From connected to authenticated (RCON auth reply, telnet password prompt and answer). */
  authTimeoutMs: number;
  /** One command, from sent to fully answered. */
  requestTimeoutMs: number;
  /** Multi-part output: how long to wait for more after a part (Minecraft 4096 split, telnet, srcds fallback). */
  quietMs: number;
}

export const DefaultAdminTimeouts = {
  connectTimeoutMs: 5000,
  authTimeoutMs: 5000,
  requestTimeoutMs: 15_000,
  quietMs: 300,
} as const satisfies AdminTimeouts;

export interface ExecOptions {
  signal?: AbortSignal;
  /** The command makes the game exit: a connection closed before the answer counts as success. */
  allowDisconnect?: boolean;
}

/** What each client implements; save/broadcast/stop are built on it from the profile's commands (channel.ts). */
export interface AdminTransport {
  exec(command: string, opts?: ExecOptions): Promise<string>;
  close(): Promise<void>;
}

/**
 * Runs one task at a time, in call order. ARK stalls when a second packet
 * arrives before the first is answered, and one-at-a-time keeps every client
 * simple, so all of them use it.
 */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(task, task);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

/** An error for the caller's own abort, distinct from our timeouts. */
export function cancelled(signal: AbortSignal | undefined): ReconSyncError {
  const reason = signal?.reason;
  return reason instanceof ReconSyncError ? reason : new ReconSyncError('CANCELLED', 'the admin command was cancelled');
}

/**
 * Races `work` against a timeout and the caller's signal. `onTimeout` builds the
 * error; `cleanup` runs on either failure (e.g. drop the connection so a late
 * reply cannot be mistaken for the next one).
 */
export function withDeadline<T>(
  work: (signal: AbortSignal) => Promise<T>,
  opts: { timeoutMs: number; signal?: AbortSignal | undefined; onTimeout: () => Error; cleanup?: () => void },
): Promise<T> {
  if (opts.signal?.aborted) return Promise.reject(cancelled(opts.signal));
  const inner = new AbortController();
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const fail = (err: Error) => {
      inner.abort(err);
      opts.cleanup?.();
      finish(() => reject(err));
    };
    const onAbort = () => fail(cancelled(opts.signal));
    const timer = setTimeout(() => fail(opts.onTimeout()), opts.timeoutMs);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    work(inner.signal).then(
      (v) => finish(() => resolve(v)),
      (err: unknown) => finish(() => reject(err)),
    );
  });
}

/**
 * Makes operator text safe inside a game command: one line, no quote that could
 * end the command's string, no `;` that srcds would read as a second command.
 */
export function sanitizeMessage(message: string): string {
  return message.replace(/[\r\n\0]+/g, ' ').replace(/"/g, "'").replace(/;/g, ',').trim();
}

