/**
 * Decides whether a crashed (or hung) game is started again, and after how long.
 * At most `maxPerHour` restarts in any sliding hour; the delay doubles with each
 * restart still inside that hour, capped. When the budget is spent the answer is
 * "give up": the server stays down until an operator starts it, which resets the
 * history (`reset`).
 */

export interface RestartPolicyOptions {
  maxPerHour: number;
  /** Delay before the first restart in the window. */
  backoffMs: number;
  /** Upper bound of the doubled delay. */
  maxBackoffMs?: number;
  /** Length of the sliding window. */
  windowMs?: number;
}

export const DefaultRestartPolicyOptions = {
  maxBackoffMs: 5 * 60_000,
  windowMs: 60 * 60_000,
} as const satisfies Partial<RestartPolicyOptions>;

export type RestartDecision =
  | { action: 'restart'; delayMs: number; /** 1-based count of restarts in the window, this one included. */ attempt: number; max: number }
  | { action: 'give_up'; /** Restarts already made in the window. */ recent: number; max: number };

export class RestartPolicy {
  readonly #opts: Required<RestartPolicyOptions>;
  #restarts: number[] = [];

  constructor(opts: RestartPolicyOptions) {
    this.#opts = { ...DefaultRestartPolicyOptions, ...opts };
  }

  /** Called once per crash/hang at `now` (clock ms); records the restart when it says restart. */
  next(now: number): RestartDecision {
    this.#prune(now);
    const recent = this.#restarts.length;
    const max = this.#opts.maxPerHour;
    if (recent >= max) return { action: 'give_up', recent, max };
    const delayMs = Math.min(this.#opts.backoffMs * 2 ** recent, this.#opts.maxBackoffMs);
    this.#restarts.push(now);
    return { action: 'restart', delayMs, attempt: recent + 1, max };
  }

  /** Restarts counted in the window ending at `now`. */
  recent(now: number): number {
    this.#prune(now);
    return this.#restarts.length;
  }

  /** An operator start is a fresh budget. */
  reset(): void {
    this.#restarts = [];
  }

  #prune(now: number): void {
    const from = now - this.#opts.windowMs;
    this.#restarts = this.#restarts.filter((t) => t > from);
  }
}
