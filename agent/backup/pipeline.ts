import type { Logger } from '../../lib/logger.ts';
import { ReconSyncError, type BackupRecord } from '../../protocol/index.ts';
import type { AdminChannel, ResolvedServer, ServerControl } from '../types.ts';
import { createArchive, type ArchiveResult } from './archive.ts';
import type { CatalogEntry } from './catalog.ts';
import { formatFromConfig } from './compress.ts';
import type { BackupContext, Progress } from './context.ts';
import { LOCAL_TARGET } from './destination.ts';
import { errnoCode } from './fs-util.ts';
import { LocalDestination } from './local.ts';
import { toBackupRecord, writeManifest, type Manifest } from './manifest.ts';
import { applyRetention } from './apply-retention.ts';
import { quiesce } from './quiesce.ts';
import { redactSecrets } from './rclone.ts';
import { waitUntilSettled } from './settle.ts';
import { retryPendingUploads, uploadAll } from './upload.ts';
import { verifyRestorable } from './verify.ts';
import { errorMessage } from '../../lib/error-message.ts';

/**
 * One backup, with one outcome on the agent and at the hub (issue 10 §9).
 *
 * Until the commit point a failure anywhere (a full disk writing the manifest,
 * the catalog or the outbox record) discards the backup everywhere: its files
 * on every destination it reached and its catalog entry, and the caller gets
 * the error. The commit point is the `backup.completed` record stored in the
 * outbox: from then on the backup counts, and later steps (retention) only
 * log their failures. Retention runs after the commit, so a discarded backup
 * never made older ones go.
 */

export interface CreateRequest {
  trigger: BackupRecord['trigger'];
  note?: string;
  signal?: AbortSignal;
}

export interface RunFlags {
  /** Pre-restore: the server is already stopped, keep the copy local only and skip retention. */
  preRestore?: boolean;
}

export async function runBackup(ctx: BackupContext, server: ResolvedServer, control: ServerControl | null, admin: AdminChannel | null, req: CreateRequest, flags: RunFlags): Promise<BackupRecord> {
  const cfg = server.config.backup;
  const log = ctx.logger.child({ serverId: server.id });
  const now = ctx.clock.now();
  const id = ctx.newId(server.id, now);
  const progress = ctx.progress(server.id, id);
  const local = new LocalDestination({ dataDir: ctx.dataDir, serverId: server.id, logger: log });
  const previous = (await ctx.catalog.records(server.id)).find((r) => r.trigger !== 'pre-restore');
  const prevEntry = previous ? (await ctx.catalog.entries(server.id)).get(previous.id) : undefined;
  /** Destinations that may hold a copy of this backup: what a discard has to clean. */
  const reached = new Set<string>();
  try {
    // 1.–2. Save, settle, archive.
    const { archived, warnings } = await capture(ctx, server, control, admin, req, flags, { id, dir: local.dir, log, progress, prevEntry });
    // The archive exists from here on (createArchive removes its own partial file when it fails).
    reached.add(LOCAL_TARGET);
    const format: Manifest['archive']['format'] = archived.archivePath.endsWith('.tar.gz') ? 'tar.gz' : 'tar.zst';

    // 3. Verified means restorable: read it back through the restorer's own checks.
    progress('verifying', 0, archived.unpackedSize);
    await verifyRestorable({
      archivePath: archived.archivePath, format, pool: format === 'tar.zst' ? ctx.zstdPool() : null, sha256: archived.sha256, size: archived.size,
      roots: archived.roots, files: archived.files, ...(req.signal ? { signal: req.signal } : {}),
      onProgress: (n) => progress('verifying', n, archived.unpackedSize),
    });

    const manifest: Manifest = {
      manifestVersion: 1, id, serverId: server.id, game: server.profile.id, createdAt: new Date(now).toISOString(), trigger: req.trigger,
      ...(req.note !== undefined ? { note: req.note } : {}),
      roots: archived.roots, files: archived.files,
      archive: { sha256: archived.sha256, size: archived.size, format, unpackedSize: archived.unpackedSize },
      toolVersion: ctx.toolVersion, locked: false, warnings: [...warnings, ...archived.warnings].map((w) => w.slice(0, 1000)),
    };
    await writeManifest(local.dir, manifest);
    const remotes = flags.preRestore ? [] : ctx.destinations(server, false);
    const entry: CatalogEntry = {
      record: toBackupRecord(manifest, [{ target: LOCAL_TARGET, verified: true }, ...remotes.map((d) => ({ target: d.target, verified: false }))]),
      unpackedSize: archived.unpackedSize,
      pending: remotes.map((d) => d.target),
      uncommitted: true,
    };
    await ctx.catalog.put(server.id, entry);
    log.info({ backupId: id, size: archived.size, files: archived.files.length, skipped: archived.skipped.vanished.length + archived.skipped.unnamable.length }, 'backup archived');

    // 4. Watchdog: a much smaller archive than last time usually means a lost or reset world.
    if (previous && previous.size > 0 && archived.size < previous.size * cfg.shrinkAlertRatio) {
      await ctx.alert(server.id, 'backup_shrunk', `backup ${id} of ${server.id} is ${((archived.size / previous.size) * 100).toFixed(0)} % of the previous one (${archived.size} vs ${previous.size} bytes); check that the world is intact`);
    }

    // 5. Off-site copies, each verified before it counts.
    let down = new Set<string>();
    if (remotes.length) {
      for (const d of remotes) reached.add(d.target);
      down = await uploadAll(ctx, server, entry, manifest, archived.archivePath, remotes, progress, req.signal);
    }

    // 6. The local copy goes only once an off-site copy is verified and nothing still needs it as a source.
    if (!cfg.keepLocal && entry.pending.length === 0 && entry.record.destinations.some((d) => d.target !== LOCAL_TARGET && d.verified)) {
      await local.remove(id);
      entry.record = { ...entry.record, destinations: entry.record.destinations.filter((d) => d.target !== LOCAL_TARGET) };
      await ctx.catalog.put(server.id, entry);
    }

    // 7. Commit: the hub is told (the record is in the outbox), or the backup does not exist anywhere.
    await ctx.record('backup.completed', entry.record, { required: true });
    reached.clear();
    delete entry.uncommitted;
    await ctx.catalog.put(server.id, entry)
      .catch((err: unknown) => log.warn({ err, backupId: id }, 'could not mark the backup as reported; it is reported again at the next start'));

    // 8. Older backups' pending uploads, then retention: only after a backup that counts, and their failures do not undo it.
    if (remotes.length) {
      await retryPendingUploads(ctx, server, progress, id, req.signal, down)
        .catch((err: unknown) => log.warn({ err, backupId: id }, 'retrying earlier pending uploads failed; they are tried again after the next backup'));
    }
    if (!flags.preRestore) {
      progress('retention', 0, null);
      await applyRetention(ctx, server).catch((err: unknown) => log.warn({ err, backupId: id }, 'retention failed after the backup; it runs again after the next one'));
    }
    progress('done', archived.size, archived.size);
    return entry.record;
  } catch (err) {
    if (reached.size) await discard(ctx, server, id, [...reached]);
    const e = asBackupError(err, server.id, id, reached.size > 0);
    if (e.code !== 'BUSY') await ctx.alert(server.id, 'backup_failed', e.message);
    throw e;
  }
}

interface CaptureJob {
  id: string;
  /** The local destination's folder: the archive is written there. */
  dir: string;
  log: Logger;
  progress: Progress;
  /** The last regular backup's entry: its compression ratio sizes the free-space check. */
  prevEntry: CatalogEntry | undefined;
}

/**
 * The game saves (or is stopped) for as short as possible: save, wait until
 * the save files settle, archive, then the game is resumed whatever happened.
 * A pre-restore backup skips save and settle (the server is already stopped).
 */
async function capture(ctx: BackupContext, server: ResolvedServer, control: ServerControl | null, admin: AdminChannel | null, req: CreateRequest, flags: RunFlags, job: CaptureJob): Promise<{ archived: ArchiveResult; warnings: string[] }> {
  const cfg = server.config.backup;
  const { progress, prevEntry } = job;
  const warnings: string[] = [];
  let resume = async (): Promise<string | null> => null;
  if (!flags.preRestore) {
    progress('saving', 0, null);
    const q = await quiesce(server, control, admin, { logger: job.log, ...(req.signal ? { signal: req.signal } : {}) });
    warnings.push(...q.warnings);
    resume = q.resume;
  }
  try {
    if (!flags.preRestore) {
      progress('settling', 0, null);
      const s = await waitUntilSettled(server, { settleMs: cfg.settleMs, settleTimeoutMs: cfg.settleTimeoutMs, clock: ctx.clock, ...(req.signal ? { signal: req.signal } : {}) });
      if (!s.settled) warnings.push(`save files were still changing after ${Math.round(s.waitedMs / 1000)} s; archived anyway, files that changed during the copy were re-read`);
    }
    progress('archiving', 0, null);
    const ratio = prevEntry && prevEntry.unpackedSize > 0 ? Math.min(1, (prevEntry.record.size / prevEntry.unpackedSize) * 1.2) : 1;
    const format = formatFromConfig(cfg.format);
    const archived = await createArchive({
      source: server, dir: job.dir, id: job.id, format, pool: format === 'tar.zst' ? ctx.zstdPool() : null, tmpDir: ctx.tmpDir,
      clock: ctx.clock, estimateRatio: ratio,
      ...(req.signal ? { signal: req.signal } : {}),
      ...(ctx.statfs ? { statfs: ctx.statfs } : {}),
      onProgress: (done, total) => progress('archiving', done, total),
    });
    return { archived, warnings };
  } finally {
    // Left stopped (an operator stopped it during the backup) goes into the backup's warnings.
    const note = await resume();
    if (note) warnings.push(note);
  }
}

/**
 * At start: a backup whose catalog entry is still marked uncommitted was
 * interrupted (kill -9, power loss) after its archive was whole and verified,
 * before the hub was told. It counts: report it now. Returns the ids reported.
 */
export async function reportUncommitted(ctx: BackupContext, serverId: string): Promise<string[]> {
  const done: string[] = [];
  for (const entry of (await ctx.catalog.entries(serverId)).values()) {
    if (!entry.uncommitted) continue;
    try {
      await ctx.record('backup.completed', entry.record, { required: true });
      delete entry.uncommitted;
      await ctx.catalog.put(serverId, entry);
      done.push(entry.record.id);
    } catch (err) {
      ctx.logger.warn({ err, serverId, backupId: entry.record.id }, 'could not report an interrupted backup to the hub; trying again at the next start');
    }
  }
  return done;
}

/** Removes every trace of a backup that did not make it: files on each destination it reached, its catalog entry. */
async function discard(ctx: BackupContext, server: ResolvedServer, id: string, targets: string[]): Promise<void> {
  for (const target of targets) {
    await ctx.destination(target, server).remove(id)
      .catch((err: unknown) => ctx.logger.error({ err, serverId: server.id, backupId: id, target: redactSecrets(target) }, 'could not remove the files of a failed backup; remove them by hand'));
  }
  if ((await ctx.catalog.entries(server.id)).has(id)) {
    await ctx.catalog.delete(server.id, id)
      .catch((err: unknown) => ctx.logger.error({ err, serverId: server.id, backupId: id }, 'could not drop a failed backup from the catalog; it is dropped at the next start'));
  }
}

/** A full disk anywhere on the way (archive, manifest, catalog, outbox) is DISK_FULL, whatever step met it. */
function asBackupError(err: unknown, serverId: string, id: string, discarded: boolean): ReconSyncError {
  if (err instanceof ReconSyncError && err.code === 'DISK_FULL') return err;
  const note = discarded ? '; the backup was discarded everywhere' : '';
  let cause: unknown = err;
  for (let i = 0; i < 5 && cause; i++) {
    if (errnoCode(cause) === 'ENOSPC') {
      const where = (cause as NodeJS.ErrnoException).path;
      return new ReconSyncError('DISK_FULL', `the disk filled up during backup ${id} of ${serverId}${where ? ` (writing ${where})` : ''}${note}; free some space or move dataDir`, { cause: err });
    }
    cause = (cause as { cause?: unknown }).cause;
  }
  if (err instanceof ReconSyncError) return discarded && err.code !== 'BUSY' ? new ReconSyncError(err.code, `${err.message}${note}`, { cause: err }) : err;
  return new ReconSyncError('BACKUP_FAILED', `backup of ${serverId} failed: ${errorMessage(err)}${note}`, { cause: err });
}
