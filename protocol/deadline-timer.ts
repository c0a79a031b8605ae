import type { Clock, ClockTimer } from './clock.ts';

/**
 * One timer for all of a peer's calls instead of a timer per call: it is
 * armed at the earliest deadline and, when it fires, the owner expires what
 * is due and names the next deadline. While calls are pending it keeps the
 * process alive, like a per-call timer would; while none are, it stays armed
 * but unreferenced, so the next call with the same or a later deadline costs
 * no timer work at all (the common case: one method, one timeout).
 *
 * Deadlines are on the injected clock's now() scale.
 */
export class DeadlineTimer {
  readonly #clock: Clock;
  readonly #onDue: (at: number) => void;
  #timer: ClockTimer | undefined;
  /** When the armed timer fires; Infinity when none is armed. */
  #at = Number.POSITIVE_INFINITY;
  #referenced = false;

  /**
   * `onDue(at)` runs when the timer armed for deadline `at` fired; it calls
   * need() for the next deadline, if any. Every deadline up to `at` counts as
   * passed even if the clock reads a little less (a timer can fire early, and
   * a wall clock can step back): a call never outlives its timer.
   */
  constructor(clock: Clock, onDue: (at: number) => void) {
    this.#clock = clock;
    this.#onDue = onDue;
  }

  /** A call with this deadline is pending. */
  need(deadline: number): void {
    if (deadline < this.#at) {
      this.#timer?.cancel();
      this.#at = deadline;
      this.#timer = this.#clock.setTimer(Math.max(1, Math.ceil(deadline - this.#clock.now())), this.#fire);
      this.#referenced = true;
    } else if (!this.#referenced) {
      this.#timer?.ref();
      this.#referenced = true;
    }
  }

  /** No call is pending: the armed timer must not keep the process alive. */
  idle(): void {
    if (!this.#referenced) return;
    this.#timer?.unref();
    this.#referenced = false;
  }

  stop(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#at = Number.POSITIVE_INFINITY;
    this.#referenced = false;
  }

  readonly #fire = (): void => {
    const at = this.#at;
    this.#timer = undefined;
    this.#at = Number.POSITIVE_INFINITY;
    this.#referenced = false;
    this.#onDue(at);
  };
}
