import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ReconSyncError } from '../../protocol/index.ts';
import { decompressStream, type ArchiveFormat, type ZstdPool } from './compress.ts';
import { isErrno } from './fs-util.ts';
import { currentNamePlatform, segmentProblem, type NamePlatform } from './names.ts';
import { readTar, type TarHeader } from './tar.ts';

/**
 * Unpacks an archive into staging folders, refusing anything that could write
 * outside them: absolute paths, `..`, unknown roots, links that leave the
 * tree, device files, FIFOs, and more data than the manifest announced.
 * The first bad entry aborts the whole extraction; the caller removes staging.
 */

export interface ExtractOptions {
  archivePath: string;
  format: ArchiveFormat;
  pool: ZstdPool | null;
  /** Archive root name → kind, from the manifest. */
  roots: Record<string, { kind: 'dir' | 'file' }>;
  /** Archive root name → staging path (a folder for 'dir' roots, a file path for 'file' roots). Roots not listed are skipped. */
  staging: Record<string, string>;
  /** Restore only entries this accepts (archive paths); default all. */
  only?: (archivePath: string) => boolean;
  /** Refuse archives that unpack to more than this (a decompression bomb). */
  maxBytes: number;
  signal?: AbortSignal;
  onProgress?: (bytesDone: number) => void;
}

export class HostileEntryError extends ReconSyncError {
  constructor(entry: string, reason: string) {
    super('RESTORE_FAILED', `archive entry "${entry.slice(0, 300)}" refused: ${reason}; nothing outside the staging folder was touched`);
  }
}

/** Splits an archive path into safe segments or throws. The name rules are names.ts's, shared with the archiver. */
export function safeSegments(p: string, what = 'path', platform: NamePlatform = currentNamePlatform()): string[] {
  if (p.includes('\0')) throw new HostileEntryError(p, `${what} contains a NUL byte`);
  if (p.startsWith('/') || (platform === 'win32' && (p.startsWith('\\') || /^[A-Za-z]:/.test(p)))) throw new HostileEntryError(p, `${what} is absolute`);
  const segs = p.split('/').filter((s) => s !== '' && s !== '.');
  for (const s of segs) {
    const problem = segmentProblem(s, platform);
    if (problem) throw new HostileEntryError(p, `${what} ${problem}`);
  }
  if (segs.length === 0) throw new HostileEntryError(p, `${what} is empty`);
  return segs;
}

const CHECK_ROOT = path.resolve('/', 'reconsync-check');

/** True when the segments joined under root stay below it (a name like `..\\x` is one name on POSIX, not a parent). */
function staysInside(root: string, rest: string[]): boolean {
  const rel = path.relative(root, path.join(root, ...rest));
  return !(rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel));
}

/** What checkEntry found out about an acceptable entry. */
export interface CheckedEntry {
  root: string;
  /** Segments after the root. */
  rest: string[];
  /** The path with empty and "." segments removed. */
  normalized: string;
  /** For links: the normalized target. */
  link?: string;
}

/**
 * Every check an entry must pass before anything is written, without touching
 * the disk. Extraction runs it on every entry, and so does the verification
 * of a fresh backup (verify.ts), so "verified" means "the restorer accepts it".
 */
export function checkEntry(h: TarHeader, roots: Record<string, { kind: 'dir' | 'file' }>): CheckedEntry {
  if (h.type === 'char-device' || h.type === 'block-device') throw new HostileEntryError(h.path, 'device files are never restored');
  if (h.type === 'fifo') throw new HostileEntryError(h.path, 'FIFOs are never restored');
  if (h.type === 'other') throw new HostileEntryError(h.path, 'unknown entry type');
  const segs = safeSegments(h.path);
  const root = segs[0]!;
  const info = Object.hasOwn(roots, root) ? roots[root] : undefined;
  if (!info) throw new HostileEntryError(h.path, `"${root}" is not a root listed in the manifest`);
  if (info.kind === 'file' && (segs.length !== 1 || h.type !== 'file')) throw new HostileEntryError(h.path, 'a file root can only hold that one file');
  if (info.kind === 'dir' && segs.length === 1 && h.type !== 'directory') throw new HostileEntryError(h.path, 'replaces the root folder itself');
  if (!staysInside(CHECK_ROOT, segs.slice(1))) throw new HostileEntryError(h.path, 'resolves outside the staging folder');
  const out: CheckedEntry = { root, rest: segs.slice(1), normalized: segs.join('/') };
  if (h.type === 'symlink') out.link = safeSegments(h.linkpath, 'link target').join('/');
  if (h.type === 'hardlink') {
    const target = safeSegments(h.linkpath, 'link target');
    if (target[0] !== root) throw new HostileEntryError(h.path, 'hard link to a file outside this archive root');
    out.link = target.join('/');
  }
  return out;
}

interface Deferred {
  kind: 'symlink' | 'hardlink';
  dest: string;
  /** symlink: the link text; hardlink: absolute path of the earlier extracted file. */
  source: string;
  entry: CheckedEntry;
}

export async function extractArchive(opts: ExtractOptions): Promise<{ files: number; bytes: number; warnings: string[] }> {
  const warnings: string[] = [];
  const safeDirs = new Set<string>();
  const extracted = new Map<string, string>(); // archive path → staging file
  const deferred: Deferred[] = [];
  let bytes = 0;
  let files = 0;

  /** Every folder between the staging root and `dest` must be a real folder, never a link. */
  const ensureParents = async (stagingRoot: string, dest: string, entry: string) => {
    const rel = path.relative(stagingRoot, path.dirname(dest));
    let cur = stagingRoot;
    for (const seg of rel ? rel.split(path.sep) : []) {
      cur = path.join(cur, seg);
      if (safeDirs.has(cur)) continue;
      try {
        const st = await fs.lstat(cur);
        if (!st.isDirectory()) throw new HostileEntryError(entry, 'a parent folder is a link or a file');
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
        await fs.mkdir(cur);
      }
      safeDirs.add(cur);
    }
  };
  const clearPath = async (dest: string, keepDir: boolean) => {
    try {
      const st = await fs.lstat(dest);
      if (st.isDirectory() && keepDir) return;
      await fs.rm(dest, { recursive: true, force: true });
      safeDirs.delete(dest);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
  };

  const resolve = (c: CheckedEntry): { root: string; dest: string; stagingRoot: string } | null => {
    const stagingRoot = Object.hasOwn(opts.staging, c.root) ? opts.staging[c.root] : undefined;
    if (stagingRoot === undefined) return null;
    if (opts.roots[c.root]!.kind === 'file') return { root: c.root, dest: stagingRoot, stagingRoot: path.dirname(stagingRoot) };
    const dest = path.join(stagingRoot, ...c.rest);
    if (!staysInside(stagingRoot, c.rest)) throw new HostileEntryError(c.normalized, 'resolves outside the staging folder');
    return { root: c.root, dest, stagingRoot };
  };

  const source = createReadStream(opts.archivePath, { highWaterMark: 1 << 20, signal: opts.signal });
  for await (const entry of readTar(decompressStream(source, opts.format, opts.pool))) {
    opts.signal?.throwIfAborted();
    const h = entry.header;
    const checked = checkEntry(h, opts.roots);
    const where = resolve(checked);
    const normalized = checked.normalized;
    if (!where || (opts.only && !opts.only(normalized))) continue;
    const { dest, stagingRoot } = where;

    if (h.type === 'directory') {
      await ensureParents(stagingRoot, path.join(dest, 'x'), h.path);
      continue;
    }
    if (h.type === 'symlink') {
      deferred.push({ kind: 'symlink', dest, source: checked.link!, entry: checked });
      continue;
    }
    if (h.type === 'hardlink') {
      const from = extracted.get(checked.link!);
      if (!from) throw new HostileEntryError(h.path, 'hard link to a file outside this archive root');
      deferred.push({ kind: 'hardlink', dest, source: from, entry: checked });
      continue;
    }
    // Regular file.
    bytes += h.size;
    if (bytes > opts.maxBytes) throw new HostileEntryError(h.path, `the archive unpacks to more than the ${opts.maxBytes} bytes its manifest announced`);
    await ensureParents(stagingRoot, dest, h.path);
    await clearPath(dest, false);
    const fh = await fs.open(dest, 'wx', (h.mode & 0o777) | 0o600);
    try {
      for await (const chunk of entry.body()) await fh.write(chunk);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.utimes(dest, new Date(h.mtime), new Date(h.mtime));
    extracted.set(normalized, dest);
    files++;
    opts.onProgress?.(bytes);
  }

  for (const d of deferred) {
    const where = resolve(d.entry);
    if (!where) continue;
    await ensureParents(where.stagingRoot, d.dest, d.entry.normalized);
    await clearPath(d.dest, false);
    if (d.kind === 'hardlink') {
      // Copy instead of linking: a restored world must not share inodes with anything.
      await fs.copyFile(d.source, d.dest);
      files++;
    } else {
      // Relative and without "..": the link can only point down from its own folder, so it stays inside.
      try {
        await fs.symlink(d.source, d.dest);
      } catch (err) {
        if (!isErrno(err, 'EPERM')) throw err;
        warnings.push(`symlink ${d.entry.normalized} not restored: this system does not allow creating symlinks`);
      }
    }
  }
  return { files, bytes, warnings };
}
