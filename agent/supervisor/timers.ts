import { ReconSyncError, type Clock } from '../../protocol/index.ts';

/**
 * Runs `fn` with a signal that aborts after `ms` on the injected clock, and
 * rejects with TIMEOUT then even if `fn` ignores its signal.
 */
export async function withTimeout<T>(clock: Clock, ms: number, what: string, fn: (signal: AbortSignal) => Promise<T>, outer?: AbortSignal): Promise<T> {
  const ctl = new AbortController();
  const onOuter = () => ctl.abort(outer?.reason);
  if (outer?.aborted) onOuter();
  outer?.addEventListener('abort', onOuter, { once: true });
  const timer = new AbortController();
  const expired = clock.sleep(ms, timer.signal).then(
    () => {
      const err = new ReconSyncError('TIMEOUT', `${what} did not finish within ${ms} ms`);
      ctl.abort(err);
      throw err;
    },
    () => new Promise<never>(() => undefined),
  );
  const aborted = new Promise<never>((_, reject) => {
    if (ctl.signal.aborted) reject(ctl.signal.reason);
    ctl.signal.addEventListener('abort', () => reject(ctl.signal.reason), { once: true });
  });
  aborted.catch(() => undefined);
  try {
    return await Promise.race([fn(ctl.signal), expired, aborted]);
  } finally {
    timer.abort();
    outer?.removeEventListener('abort', onOuter);
  }
}

/** Resolves after `ms` on the clock, or false at once when `signal` aborts. */
export async function pause(clock: Clock, ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await clock.sleep(ms, signal);
    return true;
  } catch {
    return false;
  }
}

/** One pending delayed job (the supervisor's next automatic restart); scheduling again replaces it. */
export class DelayedRun {
  readonly #clock: Clock;
  readonly #closing: AbortSignal;
  #pending: AbortController | null = null;

  constructor(clock: Clock, closing: AbortSignal) {
    this.#clock = clock;
    this.#closing = closing;
  }

  schedule(ms: number, job: () => Promise<void>, onError: (err: unknown) => void): void {
    this.cancel();
    const ctl = new AbortController();
    this.#pending = ctl;
    void (async () => {
      if (!(await pause(this.#clock, ms, AbortSignal.any([ctl.signal, this.#closing])))) return;
      if (this.#pending !== ctl) return;
      this.#pending = null;
      await job();
    })().catch(onError);
  }

  cancel(): void {
    this.#pending?.abort();
    this.#pending = null;
  }
}

/** Runs `tick` every `intervalMs` on the clock until `closing` aborts; `wake()` runs the next tick at once. */
export class TickLoop {
  readonly done: Promise<void>;
  #wake: AbortController | null = null;

  constructor(clock: Clock, intervalMs: number, closing: AbortSignal, tick: () => Promise<void>) {
    this.done = (async () => {
      while (!closing.aborted) {
        await tick();
        const wake = new AbortController();
        this.#wake = wake;
        await pause(clock, intervalMs, AbortSignal.any([wake.signal, closing]));
      }
    })();
  }

  wake(): void {
    this.#wake?.abort();
  }
}
