import fs from 'node:fs/promises';
import path from 'node:path';
import { targetOf } from '../config.ts';
import type { ResolvedServer } from '../types.ts';
import type { CatalogEntry } from './catalog.ts';
import type { BackupContext, Progress } from './context.ts';
import type { Destination } from './destination.ts';
import { localBackupDir } from './local.ts';
import { archiveFileName, readManifest, manifestFileName, type Manifest } from './manifest.ts';
import { redactSecrets } from './rclone.ts';
import { errorMessage } from '../../lib/error-message.ts';

interface UploadOutcome {
  /** Null when verified, else the last error message. */
  error: string | null;
  /** The restic snapshot holding it. */
  snapshot?: string;
}

/** put → verify, retried with backoff. */
async function uploadOne(ctx: BackupContext, dest: Destination, manifest: Manifest, archivePath: string, attempts: number, progress: Progress, signal?: AbortSignal): Promise<UploadOutcome> {
  let lastError = 'not attempted';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      progress('uploading', 0, manifest.archive.size, dest.target);
      const put = await dest.put(archivePath, manifest, signal, (done, total) => progress('uploading', done, total, dest.target));
      progress('verifying', manifest.archive.size, manifest.archive.size, dest.target);
      if (await dest.verify(manifest.id, { size: manifest.archive.size, sha256: manifest.archive.sha256 }, signal)) return { error: null, ...(put?.snapshot ? { snapshot: put.snapshot } : {}) };
      lastError = 'the uploaded copy does not match the archive (size or sha256 differ)';
    } catch (err) {
      if (signal?.aborted) throw err;
      lastError = redactSecrets(errorMessage(err));
    }
    if (attempt < attempts) await ctx.clock.sleep(ctx.uploadBackoffMs * 4 ** (attempt - 1), signal);
  }
  return { error: lastError };
}

function setState(entry: CatalogEntry, target: string, outcome: UploadOutcome): string | null {
  const { error, snapshot } = outcome;
  entry.record = {
    ...entry.record,
    destinations: entry.record.destinations.map((d) => (d.target === target ? (error === null ? { target, verified: true, ...(snapshot ? { snapshot } : {}) } : { target, verified: false, error: error.slice(0, 2000) }) : d)),
  };
  if (error === null) entry.pending = entry.pending.filter((t) => t !== target);
  return error;
}

/**
 * Uploads a fresh backup to every off-site destination; failures alert
 * `upload_failed` and stay pending. Resolves to the targets that failed, so
 * the retry of older pending uploads does not wait on a remote that is down.
 */
export async function uploadAll(ctx: BackupContext, server: ResolvedServer, entry: CatalogEntry, manifest: Manifest, archivePath: string, remotes: Destination[], progress: Progress, signal?: AbortSignal): Promise<Set<string>> {
  const failed = new Set<string>();
  for (const dest of remotes) {
    const error = setState(entry, dest.target, await uploadOne(ctx, dest, manifest, archivePath, ctx.uploadAttempts, progress, signal));
    await ctx.catalog.put(server.id, entry);
    if (error !== null) {
      failed.add(dest.target);
      await ctx.alert(server.id, 'upload_failed', `upload of backup ${manifest.id} to ${redactSecrets(dest.target)} failed after ${ctx.uploadAttempts} attempts: ${error}; the local copy is kept and the upload is retried with the next backup`);
    }
  }
  return failed;
}

/**
 * One more try for uploads that failed earlier, while their local archive
 * still exists. A target that fails (or already failed in this run, `down`)
 * is not tried again for the other pending backups: one dead remote costs
 * one timeout per backup run, not one per pending backup.
 */
export async function retryPendingUploads(ctx: BackupContext, server: ResolvedServer, progress: Progress, exceptId: string, signal?: AbortSignal, down: Set<string> = new Set()): Promise<void> {
  const dir = localBackupDir(ctx.dataDir, server.id);
  for (const entry of (await ctx.catalog.entries(server.id)).values()) {
    if (entry.pending.length === 0 || entry.record.id === exceptId) continue;
    const manifest = await readManifest(path.join(dir, manifestFileName(entry.record.id))).catch(() => null);
    const archivePath = manifest ? path.join(dir, archiveFileName(manifest.id, manifest.archive.format)) : '';
    if (!manifest || !(await fs.stat(archivePath).catch(() => null))) {
      // The local copy is gone (removed by hand): these uploads can never happen; stop holding retention back.
      entry.pending = [];
      await ctx.catalog.put(server.id, entry);
      continue;
    }
    for (const target of [...entry.pending]) {
      if (!server.config.backup.destinations.map(targetOf).includes(target)) {
        // The destination was removed from the config: stop waiting for it.
        entry.pending = entry.pending.filter((t) => t !== target);
        entry.record = { ...entry.record, destinations: entry.record.destinations.filter((d) => d.target !== target) };
        continue;
      }
      if (down.has(target)) continue;
      const error = setState(entry, target, await uploadOne(ctx, ctx.destination(target, server), manifest, archivePath, 1, progress, signal));
      if (error !== null) {
        down.add(target);
        continue;
      }
      // The catalog first: the hub must never hear of a verified copy the agent's catalog does not hold.
      await ctx.catalog.put(server.id, entry);
      await ctx.record('backup.updated', entry.record);
    }
    await ctx.catalog.put(server.id, entry);
  }
}
