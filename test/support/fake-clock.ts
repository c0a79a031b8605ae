import type { Clock, ClockTimer } from '../../protocol/index.ts';

interface Sleeper {
  due: number;
  seq: number;
  resolve: () => void;
}

/**
 * A Clock whose time only moves when a test says so (style.md, testing habits).
 * `advance(ms)` fires due sleepers in time order, letting the code they wake
 * run (and schedule new sleeps) before the next one fires.
 */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  #sleepers: Sleeper[] = [];
  #waiters: Array<() => void> = [];

  constructor(start = Date.UTC(2025, 0, 1, 12, 0, 0)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const sleeper: Sleeper = {
        due: this.#now + Math.max(0, ms),
        seq: this.#seq++,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#add(sleeper);
    });
  }

  /** A timer on fake time: `fn` runs inside advance() once its due time is passed, unless cancelled first. */
  setTimer(ms: number, fn: () => void): ClockTimer {
    const sleeper: Sleeper = { due: this.#now + Math.max(0, ms), seq: this.#seq++, resolve: fn };
    this.#add(sleeper);
    return {
      cancel: () => {
        this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
      },
      ref: () => undefined,
      unref: () => undefined,
    };
  }

  #add(sleeper: Sleeper): void {
    this.#sleepers.push(sleeper);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** Number of pending sleeps and timers. */
  get pending(): number {
    return this.#sleepers.length;
  }

  /** Due time of the earliest pending sleep, or null. */
  nextDue(): number | null {
    const next = this.#earliest();
    return next ? next.due : null;
  }

  /** Moves time forward by `ms`, firing every sleeper that falls due on the way, in order. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      await flush();
      const next = this.#earliest();
      if (!next || next.due > target) break;
      this.#sleepers = this.#sleepers.filter((s) => s !== next);
      this.#now = Math.max(this.#now, next.due);
      next.resolve();
    }
    this.#now = target;
    await flush();
  }

  /** Due times of the pending sleeps, earliest first. */
  dueTimes(): number[] {
    return this.#sleepers.map((s) => s.due).sort((a, b) => a - b);
  }

  /** Resolves once some code sleeps with a due time matching `match` (default: any sleep). */
  async sleeping(signal: AbortSignal, match: (due: number) => boolean = () => true): Promise<void> {
    while (!this.#sleepers.some((s) => match(s.due))) {
      signal.throwIfAborted();
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        this.#waiters.push(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        });
      });
    }
  }

  #earliest(): Sleeper | undefined {
    let best: Sleeper | undefined;
    for (const s of this.#sleepers) if (!best || s.due < best.due || (s.due === best.due && s.seq < best.seq)) best = s;
    return best;
  }
}

/** Lets pending promise callbacks and I/O callbacks run. */
function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
