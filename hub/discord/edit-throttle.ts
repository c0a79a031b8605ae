import type { Clock } from '../../protocol/index.ts';
import type { Logger } from '../../lib/logger.ts';
import { errorMessage } from '../../lib/error-message.ts';

interface Slot {
  /** When the last job for this key finished. */
  last: number;
  job: (() => Promise<boolean | void>) | null;
  timer: AbortController | null;
  running: boolean;
}

/**
 * At most one job per key per `intervalMs`, latest request wins; a job that
 * returns false wrote nothing and does not count. Used for
 * every message the bot edits repeatedly (board pages, collapsed alerts):
 * Discord's edit buckets are per route and shared, so bursts are merged here
 * instead of queued in discord.js.
 */
export class EditThrottle {
  readonly #slots = new Map<string, Slot>();
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #signal: AbortSignal;
  readonly #logger: Logger;

  constructor(
    clock: Clock,
    intervalMs: number,
    signal: AbortSignal,
    logger: Logger,
  ) {
    this.#clock = clock;
    this.#intervalMs = intervalMs;
    this.#signal = signal;
    this.#logger = logger;
  }

  request(key: string, job: () => Promise<boolean | void>): void {
    if (this.#signal.aborted) return;
    let s = this.#slots.get(key);
    if (!s) {
      s = { last: Number.NEGATIVE_INFINITY, job: null, timer: null, running: false };
      this.#slots.set(key, s);
    }
    s.job = job;
    if (!s.timer && !s.running) this.#arm(key, s);
  }

  /** Forget a key (its message is gone); a pending job is dropped. */
  forget(key: string): void {
    const s = this.#slots.get(key);
    s?.timer?.abort();
    this.#slots.delete(key);
  }

  #arm(key: string, s: Slot): void {
    const wait = s.last + this.#intervalMs - this.#clock.now();
    if (wait <= 0) {
      void this.#run(key, s);
      return;
    }
    const timer = new AbortController();
    s.timer = timer;
    const onAbort = () => timer.abort();
    this.#signal.addEventListener('abort', onAbort, { once: true });
    this.#clock.sleep(wait, timer.signal).then(
      () => {
        this.#signal.removeEventListener('abort', onAbort);
        s.timer = null;
        void this.#run(key, s);
      },
      () => this.#signal.removeEventListener('abort', onAbort),
    );
  }

  async #run(key: string, s: Slot): Promise<void> {
    const job = s.job;
    s.job = null;
    if (!job || this.#signal.aborted) return;
    s.running = true;
    let wrote = true;
    try {
      wrote = (await job()) !== false;
    } catch (err) {
      this.#logger.warn({ key, err: errorMessage(err) }, 'discord: edit job failed');
    } finally {
      s.running = false;
      // A job that found nothing to write does not use up the interval.
      if (wrote) s.last = this.#clock.now();
      if (s.job && this.#slots.get(key) === s) this.#arm(key, s);
    }
  }
}
