/** A timer armed through a Clock; cancel() is a no-op once it fired. */
export interface ClockTimer {
  cancel(): void;
  /** Whether an armed timer keeps the process alive (a real timer's ref/unref; a fake clock ignores it). */
  ref(): void;
  unref(): void;
}

/** Injectable time, so schedules, backoff and timeouts are testable without sleeping. */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /**
   * Calls `fn` once after `ms`: for code that cannot await a sleep per item
   * (the RPC peer's one deadline timer, the hub's liveness sweep).
   */
  setTimer(ms: number, fn: () => void): ClockTimer;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
  setTimer: (ms, fn) => new SystemTimer(ms, fn),
};

class SystemTimer implements ClockTimer {
  readonly #timer: NodeJS.Timeout;
  constructor(ms: number, fn: () => void) {
    this.#timer = setTimeout(fn, ms);
  }
  cancel(): void {
    clearTimeout(this.#timer);
  }
  ref(): void {
    this.#timer.ref();
  }
  unref(): void {
    this.#timer.unref();
  }
}
