import type { ResolvedServer } from '../types.ts';
import type { BackupContext } from './context.ts';

/**
 * The backup watchdog: alerts `backup_overdue` when a server's newest verified
 * backup is older than `backup.maxAgeHours`, once per episode and again every
 * maxAgeHours while it lasts.
 */
export class OverdueWatch {
  readonly #ctx: BackupContext;
  /** serverId → when this episode last alerted. */
  readonly #alertedAt = new Map<string, number>();

  constructor(ctx: BackupContext) {
    this.#ctx = ctx;
  }

  /** True when overdue. */
  async check(server: ResolvedServer): Promise<boolean> {
    const maxAgeHours = server.config.backup.maxAgeHours;
    if (maxAgeHours === undefined) return false;
    const maxAgeMs = maxAgeHours * 3_600_000;
    const newest = (await this.#ctx.catalog.records(server.id)).find((r) => r.destinations.some((d) => d.verified));
    const now = this.#ctx.clock.now();
    const ageMs = newest ? now - Date.parse(newest.createdAt) : Infinity;
    if (ageMs <= maxAgeMs) {
      this.#alertedAt.delete(server.id);
      return false;
    }
    const last = this.#alertedAt.get(server.id);
    if (last === undefined || now - last >= maxAgeMs) {
      this.#alertedAt.set(server.id, now);
      await this.#ctx.alert(server.id, 'backup_overdue', newest
        ? `no verified backup of ${server.id} for ${(ageMs / 3_600_000).toFixed(1)} h (limit ${maxAgeHours} h); the newest is ${newest.id}`
        : `${server.id} has no verified backup at all (limit ${maxAgeHours} h)`);
    }
    return true;
  }
}
