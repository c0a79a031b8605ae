import type { ResolvedServer } from '../types.ts';
import type { BackupContext } from './context.ts';
import { redactSecrets } from './rclone.ts';
import { planRetention } from './retention.ts';

/**
 * Applies `backup.keep` per destination (the plan is retention.ts, pure): each
 * removal leaves the catalog and is told to the hub; deletion failures are
 * logged and retried at the next run.
 */
export async function applyRetention(ctx: BackupContext, server: ResolvedServer): Promise<void> {
  const cfg = server.config.backup;
  const entries = await ctx.catalog.entries(server.id);
  const plan = planRetention(
    [...entries.values()].map((e) => ({ id: e.record.id, createdAt: e.record.createdAt, locked: e.record.locked, uploadPending: e.pending.length > 0, destinations: e.record.destinations })),
    cfg.keep,
    cfg.timezone ? { timeZone: cfg.timezone } : {},
  );
  for (const [target, ids] of plan) {
    const dest = ctx.destination(target, server);
    let removed = 0;
    for (const id of ids) {
      try {
        await dest.remove(id);
      } catch (err) {
        ctx.logger.warn({ err, serverId: server.id, backupId: id, target: redactSecrets(target) }, 'retention could not delete a backup; will try again next time');
        continue;
      }
      const e = entries.get(id);
      if (!e) continue;
      e.record = { ...e.record, destinations: e.record.destinations.filter((d) => d.target !== target) };
      const gone = e.record.destinations.length === 0;
      if (gone) await ctx.catalog.delete(server.id, id);
      else await ctx.catalog.put(server.id, e);
      await ctx.record('backup.removed', { serverId: server.id, backupId: id, target: redactSecrets(target) });
      if (gone) await ctx.record('backup.removed', { serverId: server.id, backupId: id, target: null });
      removed++;
    }
    // restic: forgotten snapshots free their space only when the repository is pruned.
    if (removed > 0 && dest.compact) {
      await dest.compact().catch((err: unknown) => ctx.logger.warn({ err, serverId: server.id, target: redactSecrets(target) }, 'reclaiming the space of removed backups failed; it is tried again after the next retention run'));
    }
  }
}
