import type { Clock } from '../../protocol/index.ts';

/**
 * What one agent may make the hub read, per second: frames and bytes, each a
 * token bucket. Every frame is parsed, validated and often written to SQLite:
 * without a budget one agent token could keep the hub's one thread and its
 * disk busy for everyone (a flood of status, progress or records about its own
 * servers). Over budget, the session stops reading its socket until the
 * budget has refilled, so TCP pushes back on the agent: nothing it sent is
 * dropped or refused, a flooding agent only slows itself down. The defaults
 * are far above what an agent sends, even replaying a long outbox.
 */
export interface InboundLimits {
  framesPerSecond: number;
  frameBurst: number;
  bytesPerSecond: number;
  byteBurst: number;
}

export const DefaultInboundLimits = {
  framesPerSecond: 500,
  frameBurst: 5000,
  bytesPerSecond: 8 * 1024 * 1024,
  byteBurst: 32 * 1024 * 1024,
} as const satisfies InboundLimits;

export class InboundBudget {
  readonly #limits: InboundLimits;
  readonly #clock: Clock;
  #frames: number;
  #bytes: number;
  #at: number;

  constructor(limits: InboundLimits, clock: Clock) {
    this.#limits = limits;
    this.#clock = clock;
    this.#frames = limits.frameBurst;
    this.#bytes = limits.byteBurst;
    this.#at = clock.now();
  }

  /** Spends one frame of `bytes`. Milliseconds to stop reading before the next one (0: go on). */
  spend(bytes: number): number {
    const now = this.#clock.now();
    const elapsed = Math.max(0, now - this.#at) / 1000;
    this.#at = now;
    const l = this.#limits;
    this.#frames = Math.min(l.frameBurst, this.#frames + elapsed * l.framesPerSecond) - 1;
    this.#bytes = Math.min(l.byteBurst, this.#bytes + elapsed * l.bytesPerSecond) - bytes;
    // Wait until both buckets are back at zero: the debt, paid at the refill rate.
    const waitFrames = this.#frames < 0 ? -this.#frames / l.framesPerSecond : 0;
    const waitBytes = this.#bytes < 0 ? -this.#bytes / l.bytesPerSecond : 0;
    return Math.ceil(Math.max(waitFrames, waitBytes) * 1000);
  }
}
