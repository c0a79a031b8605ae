/**
 * How many audit rows an agent's own reports (restore and update outcomes) may
 * add per server in a window. The audit log is never pruned, and an agent may
 * send such records for its servers as fast as its inbound budget lets it: a
 * real server has a few restores and updates a day. Over the quota the record
 * is still stored and has its effect; only its audit row is left out, and the
 * first one left out is replaced by a row saying so.
 */
export const DefaultAuditQuota = {
  rowsPerWindow: 30,
  windowMs: 60 * 60 * 1000,
  /** Servers tracked at once (the oldest windows go first). */
  maxTracked: 10_000,
} satisfies Record<string, number>;

/** 'ok': write the row; 'last': write one saying the rest of the window is not audited; 'over': write none. */
export type AuditAllowance = 'ok' | 'last' | 'over';

export class AuditQuota {
  readonly #o: typeof DefaultAuditQuota;
  readonly #now: () => number;
  readonly #windows = new Map<string, { start: number; used: number }>();

  constructor(now: () => number, options: Partial<typeof DefaultAuditQuota> = {}) {
    this.#now = now;
    this.#o = { ...DefaultAuditQuota, ...options };
  }

  take(serverId: string): AuditAllowance {
    const now = this.#now();
    let w = this.#windows.get(serverId);
    if (!w || now - w.start >= this.#o.windowMs) {
      this.#windows.delete(serverId);
      w = { start: now, used: 0 };
      this.#windows.set(serverId, w);
      if (this.#windows.size > this.#o.maxTracked) this.#windows.delete(this.#windows.keys().next().value as string);
    }
    w.used++;
    if (w.used <= this.#o.rowsPerWindow) return 'ok';
    return w.used === this.#o.rowsPerWindow + 1 ? 'last' : 'over';
  }

  /** When the window of `serverId` ends (for the row that says the rest is not audited). */
  windowEnd(serverId: string): number {
    const w = this.#windows.get(serverId);
    return (w?.start ?? this.#now()) + this.#o.windowMs;
  }
}
