import type { Clock } from '../../protocol/index.ts';

/**
 * Progress edits of one interaction reply: coalesced to one per interval
 * (latest wins), and a final edit that always lands last.
 */
export class ReplyEditor<T> {
  #pending: T | null = null;
  #timer: AbortController | null = null;
  #chain: Promise<void> = Promise.resolve();
  #last = Number.NEGATIVE_INFINITY;
  #done = false;
  readonly #edit: (payload: T) => Promise<unknown>;
  readonly #clock: Clock;
  readonly #intervalMs: number;

  constructor(
    edit: (payload: T) => Promise<unknown>,
    clock: Clock,
    intervalMs: number,
  ) {
    this.#edit = edit;
    this.#clock = clock;
    this.#intervalMs = intervalMs;
  }

  progress(payload: T): void {
    if (this.#done) return;
    this.#pending = payload;
    if (this.#timer) return;
    const timer = new AbortController();
    this.#timer = timer;
    const wait = Math.max(0, this.#last + this.#intervalMs - this.#clock.now());
    this.#clock.sleep(wait, timer.signal).then(() => {
      this.#timer = null;
      const p = this.#pending;
      this.#pending = null;
      if (p !== null && !this.#done) this.#chain = this.#chain.then(() => this.#send(p));
    }, () => undefined);
  }

  async final(payload: T): Promise<void> {
    this.#done = true;
    this.#timer?.abort();
    this.#timer = null;
    this.#pending = null;
    await this.#chain;
    await this.#edit(payload);
  }

  async #send(p: T): Promise<void> {
    await this.#edit(p).catch(() => undefined); // a lost progress line is harmless; the final edit matters
    this.#last = this.#clock.now();
  }
}
