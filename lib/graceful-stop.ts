import type { Logger } from './logger.ts';

/**
 * SIGINT/SIGTERM handling shared by `reconsync hub` and `reconsync agent`.
 *
 * Signals are taken from the first moment (`takeStopSignals()` is the first
 * thing a run does): one that arrives while the process is still starting must
 * stop it the same way once it is up, not kill it half-started (Node's default
 * for an unhandled SIGTERM). The time limit starts with the request, so a start
 * or a close that hangs still ends the process: a service manager waits for it.
 */
/** How long a stopping hub or agent may take before it exits anyway (a service manager waits longer). */
export const STOP_DEADLINE_MS = 10_000;

export interface GracefulStopOptions {
  logger: Logger;
  /** How long a stop may take from the moment it was asked for; then the process exits anyway (code 1). */
  deadlineMs: number;
  /** A second signal while stopping: 'exit' ends the process at once (130), 'ignore' waits for the first. */
  secondSignal?: 'exit' | 'ignore';
}

export interface GracefulStop {
  /** Asks for a stop (what a signal does); a non-zero `exitCode` is what the run resolves with. */
  request(why: string, exitCode?: number): void;
  /**
   * The process is up: `close` is how it stops. Resolves with the exit code once
   * it has (at once if a stop was asked for during start).
   */
  serve(close: (why: string) => Promise<void>): Promise<number>;
  /** Start failed: stop taking signals (the caller reports the error). */
  dispose(): void;
}

/** After this the exit is forced even when a forgotten handle (socket, timer, worker) still holds the event loop. */
const LINGER_MS = 1000;

export function takeStopSignals(opts: GracefulStopOptions): GracefulStop {
  const { logger, deadlineMs } = opts;
  let why: string | null = null;
  let exitCode = 0;
  let deadline: NodeJS.Timeout | undefined;
  let onRequest: (() => void) | null = null;
  let settle: ((code: number) => void) | null = null;

  const exitSoon = (code: number) => {
    // Unref'd: it only fires when something else still holds the event loop.
    setTimeout(() => {
      logger.warn('something still held the event loop after stopping; exiting');
      process.exit(code);
    }, LINGER_MS).unref();
  };
  const request = (reason: string, code = 0) => {
    if (code !== 0) exitCode = code;
    if (why !== null) return;
    why = reason;
    deadline = setTimeout(() => {
      logger.error({ why, deadlineMs }, 'did not stop in time; exiting anyway');
      if (settle) settle(1);
      else process.exit(1); // still starting: nothing to resolve yet
    }, deadlineMs);
    deadline.unref();
    onRequest?.();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (why !== null && opts.secondSignal === 'exit') {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    request(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const dispose = () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    clearTimeout(deadline);
  };

  return {
    request,
    dispose,
    serve: (close) =>
      new Promise<number>((resolve) => {
        let done = false;
        settle = (code) => {
          if (done) return;
          done = true;
          dispose();
          resolve(code);
          exitSoon(code);
        };
        onRequest = () => {
          close(why ?? 'stop').then(
            () => settle?.(exitCode),
            (err: unknown) => {
              logger.error({ err }, 'error while stopping');
              settle?.(1);
            },
          );
        };
        if (why !== null) onRequest();
      }),
  };
}
