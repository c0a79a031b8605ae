/**
 * Exponential backoff with jitter, for everything that reconnects (the
 * agent's hub link, the hub's Discord login). Full jitter (design.md §5): the
 * n-th retry waits a uniformly random time in [0, min(cap, base * 2^n)); it
 * spreads a fleet of agents over the whole window, so a hub restart does not
 * bring every agent back in the same second. Equal jitter waits in the upper
 * half of the window instead: for one client against a service that counts
 * logins (Discord), where an immediate retry buys nothing. The attempt counter goes back to zero once a
 * connection has stayed healthy for `healthyResetMs`, so one flap after a long
 * quiet period retries quickly instead of inheriting an old, long delay.
 */
export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  /** A connection up this long counts as healthy: the next failure starts from attempt 0. */
  healthyResetMs: number;
  /** Uniform in [0, 1); injectable so tests are deterministic. */
  random: () => number;
  /** 'full': [0, window); 'equal': [window/2, window). */
  jitter: 'full' | 'equal';
}

export const DefaultBackoffOptions = {
  baseMs: 1_000,
  capMs: 60_000,
  healthyResetMs: 60_000,
  random: Math.random,
  jitter: 'full',
} as const satisfies BackoffOptions;

export class Backoff {
  readonly #opts: BackoffOptions;
  #attempt = 0;
  /** When the current connection became healthy-to-be (welcome received); null while down. */
  #upSince: number | null = null;

  constructor(options: Partial<BackoffOptions> = {}) {
    this.#opts = { ...DefaultBackoffOptions, ...options };
    if (!(this.#opts.baseMs > 0) || !(this.#opts.capMs >= this.#opts.baseMs)) {
      throw new RangeError(`backoff needs 0 < baseMs <= capMs (got ${this.#opts.baseMs}, ${this.#opts.capMs})`);
    }
  }

  /** Retries made since the last reset; the next delay's window is base * 2^attempt. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The upper bound of the next delay's window, without consuming an attempt. */
  get ceilingMs(): number {
    // Past 2^32 the product is far above any sane cap; clamping the exponent avoids Infinity.
    return Math.min(this.#opts.capMs, this.#opts.baseMs * 2 ** Math.min(this.#attempt, 32));
  }

  /** The link is up (handshake done) at `now`. */
  connected(now: number): void {
    this.#upSince = now;
  }

  /**
   * The delay before the next attempt, given the link went down (or an attempt
   * failed) at `now`. Consumes one attempt.
   */
  next(now: number): number {
    if (this.#upSince !== null && now - this.#upSince >= this.#opts.healthyResetMs) this.#attempt = 0;
    this.#upSince = null;
    const window = this.ceilingMs;
    const floor = this.#opts.jitter === 'equal' ? window / 2 : 0;
    const delay = Math.floor(floor + this.#opts.random() * (window - floor));
    this.#attempt++;
    return delay;
  }

  reset(): void {
    this.#attempt = 0;
    this.#upSince = null;
  }
}
