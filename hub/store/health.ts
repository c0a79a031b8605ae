import { EventEmitter } from 'node:events';
import { errorMessage } from '../../lib/error-message.ts';

/** One kind of store operation that is failing, as /healthz and the logs report it. */
export interface StoreFault {
  /** What failed: 'record', 'write', 'probe', 'revocations', ... */
  op: string;
  /** SQLite's code (SQLITE_BUSY, SQLITE_CORRUPT, SQLITE_FULL, ...) or 'UNKNOWN'. */
  code: string;
  message: string;
  /** ISO time of the first failure in this run of failures. */
  since: string;
  /** Failures in this run (reset by a success of the same op). */
  count: number;
}

export interface StoreHealthOptions {
  /**
   * A failure counts for this long after it happened unless the same
   * operation succeeded since: an operation nobody retries (an agent that
   * never came back) must not keep /healthz red for ever.
   */
  holdMs?: number;
  now?: () => number;
}

export const DefaultStoreHealthOptions = { holdMs: 60_000, now: () => Date.now() } satisfies Required<StoreHealthOptions>;

export interface StoreHealthEvents {
  /** Every failure, also repeated ones (counted as a metric). */
  failure: [fault: StoreFault];
  /** The store went from healthy to faulty (true) or back (false): logged once per transition. */
  change: [faulty: boolean, fault: StoreFault | null];
}

interface Entry extends StoreFault {
  lastAt: number;
}

/**
 * What the hub knows about its store from the operations it ran: the last
 * failure per operation, cleared by that operation's next success. A write
 * that fails must show on /healthz, in /metrics and in the log (issue 10
 * §3, §8): before, a store error was logged per event and the hub kept
 * answering "ok".
 */
export class StoreHealth extends EventEmitter<StoreHealthEvents> {
  readonly #opts: Required<StoreHealthOptions>;
  readonly #faults = new Map<string, Entry>();
  #faulty = false;

  constructor(options: StoreHealthOptions = {}) {
    super();
    this.#opts = { ...DefaultStoreHealthOptions, ...options };
  }

  failed(op: string, err: unknown): StoreFault {
    const now = this.#opts.now();
    const e = this.#faults.get(op);
    const code = storeErrorCode(err);
    const message = errorMessage(err);
    const entry: Entry = e
      ? { ...e, code, message, count: e.count + 1, lastAt: now }
      : { op, code, message, since: new Date(now).toISOString(), count: 1, lastAt: now };
    this.#faults.set(op, entry);
    const fault = publicFault(entry);
    this.emit('failure', fault);
    this.#update();
    return fault;
  }

  succeeded(op: string): void {
    if (this.#faults.delete(op)) this.#update();
  }

  /** The most recent fault still in force, or null when the store looks healthy. */
  current(): StoreFault | null {
    this.#update();
    let latest: Entry | null = null;
    for (const e of this.#faults.values()) if (!latest || e.lastAt >= latest.lastAt) latest = e;
    return latest ? publicFault(latest) : null;
  }

  get faulty(): boolean {
    this.#update();
    return this.#faulty;
  }

  #update(): void {
    const cutoff = this.#opts.now() - this.#opts.holdMs;
    for (const [op, e] of this.#faults) if (e.lastAt < cutoff) this.#faults.delete(op);
    const faulty = this.#faults.size > 0;
    if (faulty === this.#faulty) return;
    this.#faulty = faulty;
    let latest: Entry | null = null;
    for (const e of this.#faults.values()) if (!latest || e.lastAt >= latest.lastAt) latest = e;
    this.emit('change', faulty, latest ? publicFault(latest) : null);
  }
}

function publicFault(e: Entry): StoreFault {
  return { op: e.op, code: e.code, message: e.message, since: e.since, count: e.count };
}

/** SQLite's error code of err, or 'UNKNOWN'. */
export function storeErrorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : 'UNKNOWN';
}

/** A failure of the store itself (locked, corrupt, full, I/O), as opposed to a bug or bad input. */
export function isStoreError(err: unknown): boolean {
  return (err instanceof Error && err.name === 'SqliteError') || storeErrorCode(err) !== 'UNKNOWN';
}
