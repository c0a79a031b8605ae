import type { BackupRecord } from '../../protocol/index.ts';
import type { ResolvedServer } from '../types.ts';
import type { CatalogEntry } from './catalog.ts';
import type { BackupContext } from './context.ts';
import { LocalDestination } from './local.ts';
import type { Manifest } from './manifest.ts';
import { redactSecrets } from './rclone.ts';

/**
 * Lock or unlock a backup: the catalog first (retention reads it), then the
 * flag on every verified copy so a rebuilt catalog still knows: a manifest
 * rewrite, or restic's `locked` tag.
 */
export async function lockBackup(ctx: BackupContext, server: ResolvedServer, backupId: string, locked: boolean): Promise<BackupRecord> {
  const entry = await ctx.entry(server.id, backupId);
  entry.record = { ...entry.record, locked };
  await ctx.catalog.put(server.id, entry);
  const local = new LocalDestination({ dataDir: ctx.dataDir, serverId: server.id });
  const manifest = await local.readManifest(backupId) ?? await remoteManifest(ctx, server, entry, backupId);
  for (const d of ctx.destinations(server, true)) {
    if (!entry.record.destinations.some((x) => x.target === d.target && x.verified)) continue;
    const warn = (err: unknown) => ctx.logger.warn({ err, serverId: server.id, target: redactSecrets(d.target) }, 'could not update the manifest on a destination after lock');
    if (d.setLocked) {
      // restic: a tag, no manifest needed (keepLocal: false leaves none here); the re-tagged snapshot has a new id.
      const put = await d.setLocked(backupId, locked).catch(warn);
      if (put?.snapshot) entry.record = { ...entry.record, destinations: entry.record.destinations.map((x) => (x.target === d.target ? { ...x, snapshot: put.snapshot } : x)) };
    } else if (manifest) {
      await d.putManifest({ ...manifest, locked }).catch(warn);
    }
  }
  await ctx.catalog.put(server.id, entry);
  await ctx.record('backup.updated', entry.record);
  return entry.record;
}

/** With keepLocal: false there is no local manifest to carry the flag: read it from the first verified copy that has one. */
async function remoteManifest(ctx: BackupContext, server: ResolvedServer, entry: CatalogEntry, backupId: string): Promise<Manifest | null> {
  for (const d of ctx.destinations(server, false)) {
    if (d.setLocked || !entry.record.destinations.some((x) => x.target === d.target && x.verified)) continue;
    const found = (await d.list().catch(() => [])).find((m) => m.id === backupId);
    if (found) return found;
  }
  return null;
}
