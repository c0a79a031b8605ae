import fs from 'node:fs/promises';
import path from 'node:path';
import { ReconSyncError, systemClock, type Clock } from '../../protocol/index.ts';
import { type ArchiveFormat, DefaultCompressOptions, type ZstdPool } from './compress.ts';
import { openArchiveOutput, type ArchiveOutput } from './archive-output.ts';
import { errnoCode, fsyncDir } from './fs-util.ts';
import { renameRetrying } from './rename-retry.ts';
import { ChunkSink, directFile, FileChangedError, readStable, RetryBudget, Scratch, snapshotGroup, streamFile, type CopyOptions } from './copy.ts';
import { archiveFileName } from './manifest.ts';
import { summarize } from './names.ts';
import { BLOCK, END_OF_ARCHIVE, encodeHeader, paddingFor } from './tar.ts';
import { planSaves, type Plan, type PlanFile, type PlanRoot, type SaveSelection } from './walk.ts';
import { stripUndefined } from '../../lib/strip-undefined.ts';

export interface StatFs {
  (p: string): Promise<{ bavail: number | bigint; bsize: number | bigint }>;
}

export const DefaultArchiveOptions = {
  level: undefined as number | undefined,
  chunkBytes: DefaultCompressOptions.chunkBytes,
  window: DefaultCompressOptions.window,
  /** Expected archive size / unpacked size for the disk check; 1 = assume no compression. */
  estimateRatio: 1,
  /** Free space left over after the archive, so the game itself does not hit a full disk. */
  reserveBytes: 64 * 1024 * 1024,
  /**
   * Files that vanished (rename-on-save) are skipped at once; at the end of the
   * archive they get one second look after this one wait, then are reported in
   * one summary warning. The settle step before the archive already waited.
   */
  vanishRecheckDelayMs: 250,
  /** A locked file (EBUSY; on Windows also EPERM/EACCES) is retried after this. */
  lockedRetryDelayMs: 100,
  /** All waits of one backup together (locked files and the recheck), whatever the number of files. */
  retryBudgetMs: 2_000,
  /** Whole-archive attempts when files change while being read. */
  attempts: 3,
  /** Files up to this size are read into memory and re-read until stable. */
  smallFileBytes: 8 * 1024 * 1024,
  /** Re-reads of one small file or SQLite group before the attempt is marked dirty. */
  rereads: 3,
} satisfies Record<string, number | undefined>;

export interface CreateArchiveOptions extends Partial<typeof DefaultArchiveOptions> {
  source: SaveSelection;
  /** Folder the archive is written to (it is created). */
  dir: string;
  id: string;
  format: ArchiveFormat;
  /** Needed for zstd. */
  pool: ZstdPool | null;
  /** SQLite groups larger than smallFileBytes are snapshotted here before archiving. */
  tmpDir: string;
  clock?: Clock;
  signal?: AbortSignal;
  statfs?: StatFs;
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
  /** Test seam: runs before each attempt to open a file. */
  beforeOpen?: (absPath: string, attempt: number) => Promise<void>;
}

export interface ArchiveResult {
  archivePath: string;
  sha256: string;
  size: number;
  unpackedSize: number;
  roots: Record<string, { path: string; kind: 'dir' | 'file' }>;
  files: Array<{ path: string; size: number; mtime: string }>;
  warnings: string[];
  /** Archive paths left out, each class reported in one warning: vanished during the backup, names a restore could not recreate. */
  skipped: { vanished: string[]; unnamable: string[] };
}

export function partialPath(dir: string, id: string, format: ArchiveFormat): string {
  return path.join(dir, `${archiveFileName(id, format)}.partial`);
}

/**
 * Streams a tar of the save paths through the compressor into `<id>.<format>.partial`,
 * hashing as it writes, then fsync → rename → fsync of the folder. A file that
 * changed while read makes the attempt dirty; the archive is then built again.
 */
export async function createArchive(options: CreateArchiveOptions): Promise<ArchiveResult> {
  const opts = { ...DefaultArchiveOptions, ...stripUndefined(options) };
  await fs.mkdir(opts.dir, { recursive: true });
  const budget = new RetryBudget(opts.retryBudgetMs, opts.clock ?? systemClock);
  let lastDirty: string[] = [];
  for (let attempt = 1; attempt <= opts.attempts; attempt++) {
    opts.signal?.throwIfAborted();
    const plan = await planSaves(opts.source);
    if (plan.roots.length === 0) {
      throw new ReconSyncError('BACKUP_FAILED', `no save files found: none of ${opts.source.savePaths.join(', ') || '(no save paths)'} exists; check saveDir or the game profile's save paths`);
    }
    if (attempt === 1) await checkDiskSpace(opts, plan);
    const r = await writeAttempt(opts, plan, budget);
    if (r.dirty.length === 0) return r.result;
    lastDirty = r.dirty;
  }
  throw new ReconSyncError('BACKUP_FAILED', `save files kept changing while they were copied (${lastDirty.slice(0, 5).join(', ')}${lastDirty.length > 5 ? ', ...' : ''}); the game may be saving continuously: set backup.stopIfNoSaveChannel, or schedule backups at a quieter time`);
}


async function checkDiskSpace(opts: CreateArchiveOptions & typeof DefaultArchiveOptions, plan: Plan): Promise<void> {
  const statfs: StatFs = opts.statfs ?? ((p) => fs.statfs(p));
  const st = await statfs(opts.dir);
  const free = Number(st.bavail) * Number(st.bsize);
  // Tar adds a header block per entry plus padding; the compressor may add a little on incompressible data.
  const overhead = plan.entries.length * BLOCK * 2 + Math.ceil(plan.totalBytes / 1000) + END_OF_ARCHIVE.length;
  const estimate = Math.ceil(plan.totalBytes * opts.estimateRatio) + overhead;
  if (estimate + opts.reserveBytes > free) {
    const mib = (n: number) => (n / 1048576).toFixed(1);
    throw new ReconSyncError('DISK_FULL', `not enough free disk for the backup: it needs about ${mib(estimate)} MiB (plus ${mib(opts.reserveBytes)} MiB reserve) in ${opts.dir}, but only ${mib(free)} MiB are free; free some space or move dataDir`);
  }
}

async function writeAttempt(opts: CreateArchiveOptions & typeof DefaultArchiveOptions, plan: Plan, budget: RetryBudget): Promise<{ result: ArchiveResult; dirty: string[] }> {
  const partial = partialPath(opts.dir, opts.id, opts.format);
  const finalPath = partial.slice(0, -'.partial'.length);
  // 'w+': the native path reads the archive back behind zstd for its sha256.
  const fh = await fs.open(partial, 'w+');
  let output: ArchiveOutput | null = null;
  let done = 0;
  const warnings = [...plan.warnings];
  const files: ArchiveResult['files'] = [];
  const dirty: string[] = [];
  let closed = false;
  /** Files zstd reads itself: settle once zstd is past them (copy.ts directFile). */
  const directChecks: Promise<void>[] = [];
  const streamed = (e: Plan['entries'][number]): e is PlanFile => e.kind === 'file' && !e.sqlite && !e.companions.length && e.size > opts.smallFileBytes;
  const large = plan.entries.filter(streamed);
  // Folders, then large files, then the rest: the zstd binary starts on the large files (it reads
  // them itself) while node reads the small ones behind it. Entry order in a tar does not matter
  // to a restore, and each folder still comes before what is in it.
  const order = [...plan.entries.filter((e) => e.kind === 'dir'), ...large, ...plan.entries.filter((e) => e.kind === 'file' && !streamed(e))];
  try {
    const out = await openArchiveOutput({
      file: fh, filePath: partial, format: opts.format, pool: opts.pool, window: opts.window, tmpDir: opts.tmpDir,
      ...(opts.level !== undefined ? { level: opts.level } : {}),
      // Tar overhead: a header (sometimes two) per entry, padding, the end blocks.
      expectedBytes: plan.totalBytes + plan.entries.length * BLOCK * 3 + END_OF_ARCHIVE.length,
      expectedDirect: { files: large.length, bytes: large.reduce((n, e) => n + e.size, 0) },
      release: (chunk) => sink.release(chunk),
    });
    output = out;
    const sink = new ChunkSink(Math.min(opts.chunkBytes, out.chunkBytes ?? Infinity), async (chunk) => {
      opts.signal?.throwIfAborted();
      await out.write(chunk);
      opts.onProgress?.(done, plan.totalBytes);
    });
    const copyOpts: CopyOptions = { ...opts, budget };
    const scratch = new Scratch();
    /** Copies one file (or SQLite group) into the tar; false when it was gone. */
    const copy = async (entry: PlanFile, attempt: number): Promise<boolean> => {
      if (entry.sqlite || entry.companions.length) {
        const snap = await snapshotGroup(entry, copyOpts, attempt);
        try {
          if (snap.vanished) return false;
          if (snap.unstable) dirty.push(entry.absPath);
          for (const m of snap.members) {
            await sink.write(encodeHeader({ path: m.file.archivePath, type: 'file', size: m.size, mode: m.file.mode, mtime: m.mtimeMs }));
            if (m.data) await sink.write(m.data);
            else await sink.copyFrom(m.tmpPath!, m.size);
            await sink.write(Buffer.alloc(paddingFor(m.size)));
            files.push({ path: m.file.archivePath, size: m.size, mtime: new Date(m.mtimeMs).toISOString() });
            done += m.size;
          }
        } finally {
          await snap.cleanup();
        }
        return true;
      }
      if (entry.size <= opts.smallFileBytes) {
        const r = await readStable(entry, copyOpts, attempt, scratch);
        if (r === null) return false;
        if (r.unstable) dirty.push(entry.absPath);
        await sink.write(encodeHeader({ path: entry.archivePath, type: 'file', size: r.data.length, mode: entry.mode, mtime: r.mtimeMs }));
        await sink.write(r.data);
        await sink.write(Buffer.alloc(paddingFor(r.data.length)));
        files.push({ path: entry.archivePath, size: r.data.length, mtime: new Date(r.mtimeMs).toISOString() });
        done += r.data.length;
        return true;
      }
      if (out.direct) {
        const r = await directFile(entry, sink, out.direct, copyOpts, attempt);
        if (r === null) return false;
        files.push({ path: entry.archivePath, size: r.size, mtime: new Date(r.mtimeMs).toISOString() });
        directChecks.push(r.stable.then((stable) => {
          if (!stable) dirty.push(entry.absPath);
          done += r.size;
          opts.onProgress?.(done, plan.totalBytes);
        }));
        return true;
      }
      try {
        const r = await streamFile(entry, sink, copyOpts, (n) => (done += n), attempt);
        if (r === null) return false;
        files.push({ path: entry.archivePath, size: r.size, mtime: new Date(r.mtimeMs).toISOString() });
      } catch (err) {
        if (!(err instanceof FileChangedError)) throw err;
        dirty.push(entry.absPath);
        files.push({ path: entry.archivePath, size: err.size, mtime: new Date(err.mtimeMs).toISOString() });
      }
      return true;
    };
    const missing: PlanFile[] = [];
    for (const entry of order) {
      opts.signal?.throwIfAborted();
      if (entry.kind === 'dir') {
        await sink.write(encodeHeader({ path: entry.archivePath, type: 'directory', size: 0, mode: entry.mode, mtime: entry.mtimeMs }));
        continue;
      }
      if (!(await copy(entry, 0))) missing.push(entry);
    }
    // One shared wait, then one more look at every vanished file: a game that renamed its world away
    // mid-save has usually put it back by now. Entry order in a tar does not matter.
    const vanished = [...plan.vanished];
    if (missing.length && (await budget.wait(opts.vanishRecheckDelayMs, opts.signal))) {
      for (const entry of missing) if (!(await copy(entry, 1))) vanished.push(entry.archivePath);
    } else {
      vanished.push(...missing.map((e) => e.archivePath));
    }
    const vanishedNote = summarize('vanished while the backup ran: renamed or deleted by the game', vanished);
    if (vanishedNote) warnings.push(vanishedNote);
    const unnamableNote = summarize('name is not valid UTF-8, so a restore could not recreate it', plan.unnamable);
    if (unnamableNote) warnings.push(unnamableNote);
    const symlinkNote = summarize('symbolic link: links inside save folders are not followed; a restore keeps them in place', plan.symlinks);
    if (symlinkNote) warnings.push(symlinkNote);
    await sink.write(END_OF_ARCHIVE);
    await sink.flush();
    const { size, sha256 } = await out.end();
    output = null;
    await Promise.all(directChecks);
    await fh.sync();
    await fh.close();
    closed = true;
    if (dirty.length) {
      await fs.rm(partial, { force: true });
      return { result: undefined as unknown as ArchiveResult, dirty };
    }
    await renameRetrying(partial, finalPath);
    await fsyncDir(opts.dir);
    const roots: ArchiveResult['roots'] = {};
    for (const r of plan.roots as PlanRoot[]) roots[r.name] = { path: r.path, kind: r.kind };
    const unpackedSize = files.reduce((a, f) => a + f.size, 0);
    opts.onProgress?.(unpackedSize, unpackedSize);
    return { result: { archivePath: finalPath, sha256, size, unpackedSize, roots, files, warnings, skipped: { vanished, unnamable: plan.unnamable } }, dirty };
  } catch (err) {
    // A compressor still running (zstd) is stopped before its file goes.
    await output?.abort().catch(() => undefined);
    await Promise.all(directChecks); // zstd is gone: they close their files
    if (!closed) await fh.close().catch(() => undefined);
    await fs.rm(partial, { force: true }).catch(() => undefined);
    if (errnoCode(err) === 'ENOSPC') {
      throw new ReconSyncError('DISK_FULL', `the disk holding ${opts.dir} filled up while the backup was written; free some space or move dataDir`, { cause: err });
    }
    throw err;
  }
}
