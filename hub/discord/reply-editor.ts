import type { Clock } from '../../protocol/index.ts';

/**
 * Progress edits of one interaction reply: coalesced to one per interval
 * (latest wins), and a final edit that always lands last.
 */
export class ReplyEditor<T> {
  private pending: T | null = null;
  private timer: AbortController | null = null;
  private chain: Promise<void> = Promise.resolve();
  private last = Number.NEGATIVE_INFINITY;
  private done = false;

  constructor(
    private readonly edit: (payload: T) => Promise<unknown>,
    private readonly clock: Clock,
    private readonly intervalMs: number,
  ) {}

  progress(payload: T): void {
    if (this.done) return;
    this.pending = payload;
    if (this.timer) return;
    const timer = new AbortController();
    this.timer = timer;
    const wait = Math.max(0, this.last + this.intervalMs - this.clock.now());
    this.clock.sleep(wait, timer.signal).then(() => {
      this.timer = null;
      const p = this.pending;
      this.pending = null;
      if (p !== null && !this.done) this.chain = this.chain.then(() => this.send(p));
    }, () => undefined);
  }

  async final(payload: T): Promise<void> {
    this.done = true;
    this.timer?.abort();
    this.timer = null;
    this.pending = null;
    await this.chain;
    await this.edit(payload);
  }

  private async send(p: T): Promise<void> {
    await this.edit(p).catch(() => undefined); // a lost progress line is harmless; the final edit matters
    this.last = this.clock.now();
  }
}
