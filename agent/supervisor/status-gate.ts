import type { ServerStatus } from '../../protocol/index.ts';

/**
 * Coalesces status events (design.md §5: status is newest-wins state): let one
 * through when something a viewer sees changed, or when the slow heartbeat is
 * due. Resource figures alone do not count: CPU moves every sample.
 */
export class StatusGate {
  readonly #heartbeatMs: number;
  #key = '';
  #at = Number.NEGATIVE_INFINITY;

  constructor(heartbeatMs: number) {
    this.#heartbeatMs = heartbeatMs;
  }

  /** True when `status` should be sent at `now`; remembers it as sent. */
  pass(status: ServerStatus, now: number): boolean {
    const key = JSON.stringify([status.state, status.players, status.map, status.version, status.lastBackup, status.message, status.managed]);
    if (key === this.#key && now - this.#at < this.#heartbeatMs) return false;
    this.#key = key;
    this.#at = now;
    return true;
  }
}
