import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ReconSyncError } from '../../protocol/index.ts';
import type { ResolvedServer, ServerControl } from '../types.ts';
import { LOCAL_TARGET } from './destination.ts';
import type { BackupContext } from './context.ts';
import type { Manifest } from './manifest.ts';
import { runBackup } from './pipeline.ts';
import { redactSecrets } from './rclone.ts';
import { RestoreRolledBackError, restoreWorld, type RestoreWorldOptions } from './restore.ts';
import { planSaves, rootNames } from './walk.ts';
import { errorMessage } from '../../lib/error-message.ts';

export interface RestoreRequest {
  backupId: string;
  /** Destination target to fetch from; default: the first verified copy, local first. */
  from?: string;
  /** Only these archive paths (as in the manifest's file list, or a folder of them). */
  paths?: string[];
  signal?: AbortSignal;
  startTimeoutMs?: number;
  /** Test seams, passed to restoreWorld. */
  hooks?: RestoreWorldOptions['hooks'];
}

export interface RestoreResult {
  backupId: string;
  preRestoreBackupId: string | null;
  from: string;
}

/** A catalogued backup's restore: pick a copy, fetch it, check it against the catalog, then restoreWorld. */
export async function restoreBackup(ctx: BackupContext, server: ResolvedServer, control: ServerControl | null, req: RestoreRequest): Promise<RestoreResult> {
  const entry = await ctx.entry(server.id, req.backupId);
  const verified = entry.record.destinations.filter((d) => d.verified).map((d) => d.target);
  let candidates: string[];
  if (req.from !== undefined) {
    // The hub only ever saw redacted targets; accept those too.
    const match = verified.find((t) => t === req.from || redactSecrets(t) === req.from);
    if (match === undefined) throw new ReconSyncError('UNKNOWN_BACKUP', `backup ${req.backupId} has no verified copy on ${redactSecrets(req.from)}; verified copies: ${verified.map(redactSecrets).join(', ') || 'none'}`);
    candidates = [match];
  } else {
    candidates = [...verified].sort((a, b) => (a === LOCAL_TARGET ? -1 : b === LOCAL_TARGET ? 1 : 0));
  }
  if (candidates.length === 0) throw new ReconSyncError('UNKNOWN_BACKUP', `backup ${req.backupId} has no verified copy anywhere`);

  const jobId = randomBytes(4).toString('hex');
  const progress = ctx.progress(server.id, `restore-${jobId}`);
  const downloadDir = path.join(ctx.tmpDir, `restore-${jobId}`);
  const log = ctx.logger.child({ serverId: server.id, backupId: req.backupId });
  try {
    // 1. Fetch the first copy that arrives and matches the catalog.
    let fetched: { archivePath: string; manifest: Manifest; tree?: boolean; from: string } | null = null;
    const failures: string[] = [];
    for (const target of candidates) {
      try {
        progress('downloading', 0, entry.record.size, target);
        const got = await ctx.destination(target, server).get(req.backupId, downloadDir, req.signal);
        if (got.manifest.archive.sha256 !== entry.record.sha256) throw new Error('its manifest does not match the catalog (different sha256)');
        fetched = { ...got, from: target };
        break;
      } catch (err) {
        if (req.signal?.aborted) throw err;
        failures.push(`${redactSecrets(target)}: ${errorMessage(err)}`);
        log.warn({ err, target: redactSecrets(target) }, 'could not fetch the backup from this destination');
      }
    }
    if (!fetched) throw new ReconSyncError('RESTORE_FAILED', `could not fetch backup ${req.backupId}; nothing was changed (${failures.join('; ')})`);

    // Save folders are matched by root name, so a moved saveDir restores to where the world lives now.
    const names = rootNames(server.savePaths);
    const currentRoots = Object.fromEntries(names.map((n, i) => [n, server.savePaths[i]!]));
    const result = await restoreWorld({
      dataDir: ctx.dataDir, jobId, serverId: server.id, manifest: fetched.manifest, archivePath: fetched.archivePath, tree: fetched.tree === true,
      pool: fetched.manifest.archive.format === 'tar.zst' ? ctx.zstdPool() : null,
      control, clock: ctx.clock, logger: log, currentRoots, preRestoreBackup: () => preRestoreBackup(ctx, server),
      keepUnselected: { include: server.include, exclude: server.exclude },
      onPhase: (phase, done, total) => progress(phase, done, total),
      ...(req.paths ? { paths: req.paths } : {}),
      ...(req.signal ? { signal: req.signal } : {}),
      ...(req.startTimeoutMs !== undefined ? { startTimeoutMs: req.startTimeoutMs } : {}),
      ...(req.hooks ? { hooks: req.hooks } : {}),
      // Required: a restore the hub cannot be told about is rolled back (one outcome on both sides), never kept silently.
      beforeComplete: (done) => ctx.record('restore.completed', {
        serverId: server.id, backupId: req.backupId, ok: true, preRestoreBackupId: done.preRestoreBackupId, rolledBack: false, at: ctx.nowIso(),
        message: `restored ${req.backupId} from ${redactSecrets(fetched!.from)}${req.paths?.length ? ` (${req.paths.length} path(s))` : ''}${done.warnings.length ? `; ${done.warnings.join('; ')}` : ''}`.slice(0, 2000),
      }, { required: true }),
    });
    return { backupId: req.backupId, preRestoreBackupId: result.preRestoreBackupId, from: redactSecrets(fetched.from) };
  } catch (err) {
    const e = err instanceof ReconSyncError ? err : new ReconSyncError('RESTORE_FAILED', `restore of ${req.backupId} failed: ${errorMessage(err)}`, { cause: err });
    await ctx.record('restore.completed', {
      serverId: server.id, backupId: req.backupId, ok: false, preRestoreBackupId: err instanceof RestoreRolledBackError ? err.preRestoreBackupId : null, rolledBack: err instanceof RestoreRolledBackError, at: ctx.nowIso(), message: e.message.slice(0, 2000),
    });
    throw e;
  } finally {
    await fs.rm(downloadDir, { recursive: true, force: true });
  }
}

/** The current world, kept local-only before a restore replaces it; null when there is nothing to keep. */
async function preRestoreBackup(ctx: BackupContext, server: ResolvedServer): Promise<string | null> {
  const plan = await planSaves(server);
  if (plan.roots.length === 0) return null;
  return (await runBackup(ctx, server, null, null, { trigger: 'pre-restore' }, { preRestore: true })).id;
}
