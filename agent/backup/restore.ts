import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../lib/logger.ts';
import { ReconSyncError, type BackupProgress, type Clock, type ServerState } from '../../protocol/index.ts';
import type { ServerControl } from '../types.ts';
import type { ZstdPool } from './compress.ts';
import { extractArchive, safeSegments } from './extract.ts';
import { exists, sha256File } from './fs-util.ts';
import { placeTree } from './place-tree.ts';
import { listUnselected } from './walk.ts';
import type { Manifest } from './manifest.ts';
import { complete, planStep, rollBack, swapIn, writeJournal, type Journal, type SwapHook } from './swap.ts';
import { errorMessage } from '../../lib/error-message.ts';

/**
 * Puts a backup's files back: verify → extract into staging beside each save
 * folder → stop the server → pre-restore backup → swap by rename (journaled)
 * → start → wait until it answers; any failure after the swap puts the old
 * world back. An operator stop during the restore wins: the restored world
 * stays and the game stays stopped (the outcome says so). Extraction comes before the stop: a corrupt or hostile archive
 * is refused while the game is still running, and the downtime is only the
 * pre-restore copy plus two renames per save folder.
 */

export const DefaultRestoreOptions = {
  /** How long the server may take to answer after the start. */
  startTimeoutMs: 300_000,
  /** Extra bytes accepted beyond the manifest's unpacked size. */
  unpackSlackBytes: 1024 * 1024,
} satisfies Record<string, number>;

export type RestorePhase = Extract<BackupProgress['phase'], 'verifying' | 'extracting' | 'stopping' | 'swapping' | 'starting' | 'done'>;

export interface RestoreWorldOptions extends Partial<typeof DefaultRestoreOptions> {
  /**
   * Runs once the new world is in place, before the journal is removed: the
   * outcome record must be in the outbox before the journal goes, or a kill in
   * between would leave a restore nobody is told about.
   */
  beforeComplete?: (result: { preRestoreBackupId: string | null; warnings: string[] }) => Promise<void>;
  dataDir: string;
  jobId: string;
  serverId: string;
  manifest: Manifest;
  archivePath: string;
  /** `archivePath` is a folder of already unpacked files (a restored restic snapshot), placed instead of extracted. */
  tree?: boolean;
  pool: ZstdPool | null;
  control: ServerControl | null;
  clock: Clock;
  logger: Logger;
  /** Current save path per archive root name; roots not listed fall back to the manifest's path. */
  currentRoots?: Record<string, string>;
  /** Restore only these archive paths (a file, or a folder and everything under it). */
  paths?: string[];
  /**
   * The server's include/exclude: files the backups never take (the game's own
   * rolling backups, symlinks) are carried over into the restored folder
   * (hard-linked, so it costs no space) instead of being deleted with the old world.
   */
  keepUnselected?: { include: string[]; exclude: string[] };
  /** Takes the pre-restore backup (server already stopped); resolves to its id, or null when there was nothing to keep. */
  preRestoreBackup: () => Promise<string | null>;
  onPhase?: (phase: RestorePhase, bytesDone: number, bytesTotal: number | null) => void;
  signal?: AbortSignal;
  /** Test seams for crash tests. */
  hooks?: { afterStaging?: () => Promise<void>; swap?: SwapHook; afterSwap?: () => Promise<void> };
}

export interface RestoreWorldResult {
  preRestoreBackupId: string | null;
  warnings: string[];
}

/** RESTORE_FAILED after the swap, when the previous world was put back. */
export class RestoreRolledBackError extends ReconSyncError {
  readonly rolledBack = true;
  constructor(message: string, cause: unknown, readonly preRestoreBackupId: string | null) {
    super('RESTORE_FAILED', message, { cause });
  }
}

const RUNNING_STATES: ReadonlySet<ServerState> = new Set(['running', 'starting', 'unresponsive']);

function selector(paths: string[] | undefined): ((p: string) => boolean) | undefined {
  if (!paths?.length) return undefined;
  const wanted = paths.map((p) => safeSegments(p).join('/'));
  return (p) => wanted.some((w) => p === w || p.startsWith(`${w}/`));
}

export async function restoreWorld(o: RestoreWorldOptions): Promise<RestoreWorldResult> {
  const opts = { ...DefaultRestoreOptions, ...o };
  const { manifest, control, logger } = opts;
  opts.onPhase?.('verifying', 0, manifest.archive.size);
  // An unpacked tree was read back against its repository's checksums (restic restore --verify); placeTree checks each file's size.
  const actual = opts.tree ? { sha256: manifest.archive.sha256, size: manifest.archive.size } : await sha256File(opts.archivePath, opts.signal);
  if (actual.sha256 !== manifest.archive.sha256 || actual.size !== manifest.archive.size) {
    throw new ReconSyncError('RESTORE_FAILED', `backup ${manifest.id} is corrupt: its archive has sha256 ${actual.sha256.slice(0, 12)}… and ${actual.size} bytes, the manifest says ${manifest.archive.sha256.slice(0, 12)}… and ${manifest.archive.size}; nothing was changed. Restore from another destination.`);
  }

  const only = selector(opts.paths);
  const rootNames = Object.keys(manifest.roots).filter((r) => !only || manifest.files.some((f) => f.path.split('/')[0] === r && only(f.path)) || (opts.paths ?? []).some((p) => safeSegments(p)[0] === r));
  if (rootNames.length === 0) throw new ReconSyncError('INVALID_PARAMS', `none of the requested paths is in backup ${manifest.id}`);

  const steps = await Promise.all(rootNames.map(async (r) => {
    const target = opts.currentRoots?.[r] ?? manifest.roots[r]!.path;
    return { root: r, kind: manifest.roots[r]!.kind, step: planStep(target, opts.jobId, await exists(target)) };
  }));
  let journal: Journal = {
    version: 1, jobId: opts.jobId, serverId: opts.serverId, backupId: manifest.id, preRestoreBackupId: null,
    phase: 'staging', steps: steps.map((s) => s.step), startedAt: new Date(opts.clock.now()).toISOString(),
  };
  await writeJournal(opts.dataDir, journal);

  let release: (() => void) | null = null;
  let wasRunning = false;
  let swapStarted = false;
  let swapped = false;
  try {
    // 1. Staging: a full copy of the current folder first when only some paths come back.
    for (const s of steps) {
      await fs.rm(s.step.staging, { recursive: true, force: true });
      if (only && s.step.hadOld) {
        await fs.cp(s.step.target, s.step.staging, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
        for (const p of opts.paths!) {
          const segs = safeSegments(p);
          if (segs[0] === s.root && segs.length > 1) await fs.rm(path.join(s.step.staging, ...segs.slice(1)), { recursive: true, force: true });
        }
      } else if (s.kind === 'dir') {
        await fs.mkdir(s.step.staging, { recursive: true });
      } else {
        await fs.mkdir(path.dirname(s.step.staging), { recursive: true });
      }
    }
    opts.onPhase?.('extracting', 0, manifest.archive.unpackedSize);
    const staging = Object.fromEntries(steps.map((s) => [s.root, s.step.staging]));
    const extracted = opts.tree ? await placeTree({
      tree: opts.archivePath, manifest, staging, ...(only ? { only } : {}), ...(opts.signal ? { signal: opts.signal } : {}),
      onProgress: (n) => opts.onPhase?.('extracting', n, manifest.archive.unpackedSize),
    }) : await extractArchive({
      archivePath: opts.archivePath,
      format: manifest.archive.format,
      pool: opts.pool,
      roots: manifest.roots,
      staging,
      ...(only ? { only } : {}),
      maxBytes: manifest.archive.unpackedSize + opts.unpackSlackBytes,
      ...(opts.signal ? { signal: opts.signal } : {}),
      onProgress: (n) => opts.onPhase?.('extracting', n, manifest.archive.unpackedSize),
    });
    for (const s of steps) {
      // A file root missing from a partial restore keeps the current file.
      if (s.kind === 'file' && !(await exists(s.step.staging)) && s.step.hadOld) await fs.copyFile(s.step.target, s.step.staging);
      if (s.kind === 'dir' && s.step.hadOld && !only && opts.keepUnselected) await carryOver(s.step.target, s.step.staging, opts.keepUnselected);
    }
    await opts.hooks?.afterStaging?.();

    // 2. Stop, keeping the supervisor from restarting the game behind our back.
    opts.onPhase?.('stopping', 0, null);
    if (control) {
      release = control.hold(`restore of ${manifest.id}`);
      wasRunning = RUNNING_STATES.has(control.state);
      if (wasRunning) {
        if (!control.managed) throw new ReconSyncError('NOT_MANAGED', 'the server is running and the agent only watches it: stop it yourself, then restore');
        await control.stop({ reason: `restore of ${manifest.id}` });
      }
    }

    // 3. Keep what is there now.
    const preRestoreBackupId = await opts.preRestoreBackup().catch((err: unknown) => {
      throw new ReconSyncError('RESTORE_FAILED', `the pre-restore backup failed, so the current world was left in place: ${errorMessage(err)}`, { cause: err });
    });
    journal = { ...journal, preRestoreBackupId };

    // 4. Swap.
    opts.onPhase?.('swapping', 0, null);
    swapStarted = true;
    journal = await swapIn(opts.dataDir, journal, opts.hooks?.swap);
    swapped = true;
    await opts.hooks?.afterSwap?.();

    // 5. Start and wait until the game answers (unless an operator stopped it meanwhile: not a failure, nothing is rolled back).
    const warnings = [...extracted.warnings];
    if (control && wasRunning) {
      opts.onPhase?.('starting', 0, null);
      const left = await startAndWait(control, opts.clock, opts.startTimeoutMs, opts.signal);
      if (left) warnings.push(left);
    }
    await opts.beforeComplete?.({ preRestoreBackupId, warnings });
    await complete(opts.dataDir, journal);
    opts.onPhase?.('done', extracted.bytes, extracted.bytes);
    return { preRestoreBackupId, warnings };
  } catch (err) {
    const reason = errorMessage(err);
    if (!swapped) {
      await rollBack(opts.dataDir, { ...journal, phase: swapStarted ? 'swapping' : 'staging' }).catch((e: unknown) => logger.error({ err: e }, 'cleaning up restore staging failed'));
      if (control && wasRunning && !RUNNING_STATES.has(control.state)) await control.resumeAfterJob('restore').catch((e: unknown) => logger.error({ err: e }, 'restarting the server after a failed restore failed'));
      if (err instanceof ReconSyncError) throw err;
      throw new ReconSyncError('RESTORE_FAILED', `restore of ${manifest.id} failed before the world was touched: ${reason}`, { cause: err });
    }
    logger.warn({ err, backupId: manifest.id }, 'restore failed after the swap; putting the previous world back');
    if (control && RUNNING_STATES.has(control.state)) await control.stop({ reason: 'restore rollback' }).catch((e: unknown) => logger.error({ err: e }, 'stopping the server for the rollback failed'));
    await rollBack(opts.dataDir, { ...journal, phase: 'swapping' });
    let restarted = '';
    if (control && wasRunning) {
      restarted = await startAndWait(control, opts.clock, opts.startTimeoutMs, opts.signal)
        .then((left) => (left ? `; the server is ${left}` : ' and the server is running again'))
        .catch((e: unknown) => `, but the server did not come back either (${errorMessage(e)})`);
    }
    throw new RestoreRolledBackError(`restore of ${manifest.id} failed (${reason}); the previous world was put back${restarted}`, err, journal.preRestoreBackupId);
  } finally {
    release?.();
  }
}

async function carryOver(from: string, to: string, sel: { include: string[]; exclude: string[] }): Promise<void> {
  for (const rel of await listUnselected(from, sel)) {
    // Bytes for a name that is not valid UTF-8 (walk.ts): a string path would not find it.
    const src = typeof rel === 'string' ? path.join(from, ...rel.split('/')) : Buffer.concat([Buffer.from(from + path.sep), rel]);
    const dst = typeof rel === 'string' ? path.join(to, ...rel.split('/')) : Buffer.concat([Buffer.from(to + path.sep), rel]);
    if (await fs.lstat(dst).then(() => true, () => false)) continue; // the backup's own copy wins
    const parent = typeof dst === 'string' ? path.dirname(dst) : dst.subarray(0, dst.lastIndexOf(path.sep));
    await fs.mkdir(parent, { recursive: true });
    const st = await fs.lstat(src);
    if (st.isSymbolicLink()) await fs.symlink(await fs.readlink(src, { encoding: 'buffer' }), dst);
    else await fs.link(src, dst).catch(() => fs.copyFile(src, dst));
  }
}

/** Resolves to null once the game answers, or to why the supervisor left it stopped (an operator stopped it during the restore). */
async function startAndWait(control: ServerControl, clock: Clock, timeoutMs: number, signal?: AbortSignal): Promise<string | null> {
  const ac = new AbortController();
  const onAbort = () => ac.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  const timer = new AbortController();
  clock.sleep(timeoutMs, timer.signal).then(() => ac.abort(new Error(`the server did not answer within ${Math.round(timeoutMs / 1000)} s`)), () => undefined);
  try {
    const r = await control.resumeAfterJob('restore');
    if (!r.started) return r.message;
    await control.waitFor('running', ac.signal);
    return null;
  } catch (err) {
    if (ac.signal.aborted && ac.signal.reason instanceof Error) throw ac.signal.reason;
    throw err;
  } finally {
    timer.abort();
    signal?.removeEventListener('abort', onAbort);
  }
}
