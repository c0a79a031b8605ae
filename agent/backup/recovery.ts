import fs from 'node:fs/promises';
import path from 'node:path';
import { sweepStaleTemps } from '../../lib/durable-file.ts';
import type { BackupRecord } from '../../protocol/index.ts';
import type { ResolvedServer } from '../types.ts';
import type { CatalogEntry } from './catalog.ts';
import type { BackupContext } from './context.ts';
import { LOCAL_TARGET } from './destination.ts';
import { exists } from './fs-util.ts';
import { LocalDestination } from './local.ts';
import { archiveFileName, toBackupRecord, type Manifest } from './manifest.ts';
import { reportUncommitted } from './pipeline.ts';
import { redactSecrets } from './rclone.ts';
import { recoverSwaps, type RecoveredRestore } from './swap.ts';

/**
 * At agent start: delete half-written archives, finish or roll back restores a
 * crash interrupted (reported as restore.completed records), and rebuild a
 * lost catalog from the destinations' manifests.
 */
export async function recoverAtStart(ctx: BackupContext, servers: ResolvedServer[]): Promise<RecoveredRestore[]> {
  await fs.rm(ctx.tmpDir, { recursive: true, force: true });
  // Temp files of catalog writes that a kill interrupted (recoverSwaps and local.sweep do the same for their folders).
  const swept = await sweepStaleTemps(ctx.catalog.dir);
  if (swept.length) ctx.logger.warn({ dir: ctx.catalog.dir, files: swept }, 'removed temp files left by an interrupted write');
  const recovered = await recoverSwaps(ctx.dataDir);
  for (const r of recovered) {
    await ctx.record('restore.completed', {
      serverId: r.serverId, backupId: r.backupId, ok: r.action === 'completed', preRestoreBackupId: r.preRestoreBackupId,
      rolledBack: r.action === 'rolled-back', at: ctx.nowIso(),
      message: r.action === 'completed' ? 'the agent restarted after the restored world was in place; the restore was completed' : 'the agent restarted in the middle of a restore; the previous world was put back',
    });
  }
  for (const server of servers) {
    const local = new LocalDestination({ dataDir: ctx.dataDir, serverId: server.id, logger: ctx.logger });
    const swept = await local.sweep();
    if (swept.length) ctx.logger.warn({ serverId: server.id, files: swept }, 'removed unfinished backup files left by a crash');
    if (!(await ctx.catalog.load(server.id))) await rebuildCatalog(ctx, server);
    else await dropLost(ctx, server, local);
    const reported = await reportUncommitted(ctx, server.id);
    if (reported.length) ctx.logger.warn({ serverId: server.id, backups: reported }, 'reported backups a restart interrupted before the hub was told');
  }
  return recovered;
}

/**
 * Catalog entries kept only on the local disk whose archive is gone (removed
 * by hand, or a failed backup whose catalog entry could not be dropped on a
 * full disk) are not backups: they leave the catalog, and the hub is told.
 */
async function dropLost(ctx: BackupContext, server: ResolvedServer, local: LocalDestination): Promise<void> {
  for (const e of [...(await ctx.catalog.entries(server.id)).values()]) {
    if (!e.record.destinations.every((d) => d.target === LOCAL_TARGET)) continue;
    if (await exists(path.join(local.dir, archiveFileName(e.record.id, e.record.format)))) continue;
    ctx.logger.warn({ serverId: server.id, backupId: e.record.id }, 'a backup in the catalog has no archive on the local disk any more; dropped from the catalog');
    await ctx.catalog.delete(server.id, e.record.id);
    await ctx.record('backup.removed', { serverId: server.id, backupId: e.record.id, target: null });
  }
}

/** Re-reads every destination's manifests; a listed copy counts as verified (it was verified before its manifest was written). */
export async function rebuildCatalog(ctx: BackupContext, server: ResolvedServer): Promise<BackupRecord[]> {
  const byId = new Map<string, { manifest: Manifest; targets: string[] }>();
  for (const d of ctx.destinations(server, true)) {
    try {
      for (const m of await d.list()) {
        if (m.serverId !== server.id) continue;
        const e = byId.get(m.id) ?? { manifest: m, targets: [] };
        e.targets.push(d.target);
        e.manifest.locked ||= m.locked;
        byId.set(m.id, e);
      }
    } catch (err) {
      ctx.logger.warn({ err, serverId: server.id, target: redactSecrets(d.target) }, 'could not list backups on a destination while rebuilding the catalog');
    }
  }
  const entries: CatalogEntry[] = [...byId.values()].map(({ manifest, targets }) => ({
    record: toBackupRecord(manifest, targets.map((t) => ({ target: t, verified: true }))),
    unpackedSize: manifest.archive.unpackedSize,
    pending: [],
  }));
  await ctx.catalog.replace(server.id, entries);
  return ctx.catalog.records(server.id);
}
