import { once, type EventEmitter } from 'node:events';

/** What waitFor resolves with: the probe's value, known to be truthy. */
export type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>;

export interface WaitOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** What is awaited, named in the timeout error. */
  what?: string;
  /** Ends the wait early with this signal's reason (e.g. the test's own deadline). */
  signal?: AbortSignal;
  /**
   * Re-check only when `emitter` emits one of `events` (the state changed),
   * instead of polling: for conditions that have an event of their own.
   */
  wakeOn?: { emitter: EventEmitter; events: readonly (string | symbol)[] };
  /** Poll interval without wakeOn (default 20 ms). */
  everyMs?: number;
  /** Appended to the timeout error: what was seen instead (frames received, current state). */
  detail?: () => string;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_EVERY_MS = 20;

/**
 * The one wait-until helper of the test suite: resolves with the first truthy
 * value of `probe`, re-checked on each `wakeOn` event or else every `everyMs`,
 * and rejects naming `what` once `timeoutMs` passed (with the probe's last
 * error, if it threw). Positional `(probe, ms, what)` is the short form.
 */
export async function waitFor<T>(probe: () => T | Promise<T>, options?: WaitOptions | number, what?: string): Promise<Truthy<T>> {
  const o: WaitOptions = typeof options === 'number' ? { timeoutMs: options } : { ...options };
  if (what !== undefined) o.what = what;
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = o.signal ? AbortSignal.any([deadline, o.signal]) : deadline;
  let lastErr: unknown;
  for (;;) {
    // Armed before the probe runs, so a change during an async probe is not missed; the round's
    // listeners go when the round ends (no pile-up over many rounds).
    const round = new AbortController();
    try {
      const wake = o.wakeOn ? Promise.race(o.wakeOn.events.map((e) => once(o.wakeOn!.emitter, e, { signal: AbortSignal.any([signal, round.signal]) }))) : null;
      wake?.catch(() => undefined);
      try {
        const v = await probe();
        if (v) return v as Truthy<T>;
      } catch (err) {
        lastErr = err;
      }
      try {
        if (wake) await wake;
        else await pause(o.everyMs ?? DEFAULT_EVERY_MS, signal);
      } catch {
        if (o.signal?.aborted && !deadline.aborted) throw o.signal.reason;
        const seen = o.detail ? `; ${o.detail()}` : '';
        const last = lastErr ? ` (last error: ${(lastErr as Error).message})` : '';
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${o.what ?? 'a condition'}${seen}${last}`);
      }
    } finally {
      round.abort();
    }
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
