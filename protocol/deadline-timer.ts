/**
 * One timer for all of a peer's calls instead of a setTimeout per call: it
 * is armed at the earliest deadline and, when it fires, the owner expires
 * what is due and names the next deadline. While calls are pending it keeps
 * the process alive, like a per-call timer would; while none are, it stays
 * armed but unreferenced, so the next call with the same or a later deadline
 * costs no timer work at all (the common case: one method, one timeout).
 *
 * Deadlines are on the performance.now() scale.
 */
export class DeadlineTimer {
  readonly #onDue: () => void;
  #timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires; Infinity when none is armed. */
  #at = Number.POSITIVE_INFINITY;
  #referenced = false;

  /** `onDue` runs when the earliest deadline passed; it calls need() for the next one, if any. */
  constructor(onDue: () => void) {
    this.#onDue = onDue;
  }

  /** A call with this deadline is pending. */
  need(deadline: number): void {
    if (deadline < this.#at) {
      clearTimeout(this.#timer);
      this.#at = deadline;
      // A timer can fire a little before performance.now() reaches the deadline: onDue then re-arms for the rest.
      this.#timer = setTimeout(this.#fire, Math.max(1, Math.ceil(deadline - performance.now())));
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
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#at = Number.POSITIVE_INFINITY;
    this.#referenced = false;
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    this.#at = Number.POSITIVE_INFINITY;
    this.#referenced = false;
    this.#onDue();
  };
}
