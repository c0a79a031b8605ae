/**
 * Failed-auth throttling per remote address: after `maxFailures` failures in
 * one window the address gets 429 until the window ends. Fixed windows keep
 * it to one small record per address; the map is bounded and swept.
 */
export interface AuthThrottleOptions {
  maxFailures?: number;
  windowMs?: number;
  /** Upper bound on tracked addresses; the oldest entries go first. */
  maxTracked?: number;
  now?: () => number;
}

const DefaultAuthThrottleOptions = {
  maxFailures: 10,
  windowMs: 60_000,
  maxTracked: 50_000,
  now: () => performance.now(),
} satisfies Required<AuthThrottleOptions>;

interface Entry {
  windowStart: number;
  failures: number;
}

export class AuthThrottle {
  readonly #opts: Required<AuthThrottleOptions>;
  readonly #byAddress = new Map<string, Entry>();

  constructor(options: AuthThrottleOptions = {}) {
    this.#opts = { ...DefaultAuthThrottleOptions, ...options };
  }

  /** Milliseconds until the address may try again; 0 when it may try now. */
  retryAfterMs(address: string): number {
    const e = this.#current(address);
    if (!e || e.failures < this.#opts.maxFailures) return 0;
    return Math.max(1, e.windowStart + this.#opts.windowMs - this.#opts.now());
  }

  fail(address: string): void {
    let e = this.#current(address);
    if (!e) {
      if (this.#byAddress.size >= this.#opts.maxTracked) this.#evict();
      e = { windowStart: this.#opts.now(), failures: 0 };
      this.#byAddress.set(address, e);
    }
    e.failures++;
  }

  get size(): number {
    return this.#byAddress.size;
  }

  #current(address: string): Entry | undefined {
    const e = this.#byAddress.get(address);
    if (e && this.#opts.now() - e.windowStart >= this.#opts.windowMs) {
      this.#byAddress.delete(address);
      return undefined;
    }
    return e;
  }

  #evict(): void {
    const now = this.#opts.now();
    for (const [addr, e] of this.#byAddress) {
      if (now - e.windowStart >= this.#opts.windowMs) this.#byAddress.delete(addr);
    }
    // Still full: drop the oldest insertions (Map keeps insertion order).
    const excess = this.#byAddress.size - Math.floor(this.#opts.maxTracked * 0.9);
    if (excess > 0) {
      let n = 0;
      for (const addr of this.#byAddress.keys()) {
        if (n++ >= excess) break;
        this.#byAddress.delete(addr);
      }
    }
  }
}
