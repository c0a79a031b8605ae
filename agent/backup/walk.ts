import fs from 'node:fs/promises';
import path from 'node:path';
import picomatch from 'picomatch';
import { isUtf8Name, printableName, segmentProblem } from './names.ts';

/**
 * Turns a server's save paths and globs into the list of things to archive.
 * Pure reading, no archive logic: archive.ts decides how each file is copied.
 */

export interface SaveSelection {
  /** Absolute save roots (folders or files). */
  savePaths: string[];
  include: string[];
  exclude: string[];
  /** Globs of SQLite files; a file with a `-wal`/`-shm` sibling is treated as SQLite anyway. */
  sqlite: string[];
}

export interface PlanRoot {
  name: string;
  path: string;
  kind: 'dir' | 'file';
}

export interface PlanFile {
  kind: 'file';
  /** Path inside the archive: `<root>/<rel>` or `<root>` for a file root. */
  archivePath: string;
  absPath: string;
  size: number;
  mtimeMs: number;
  mode: number;
  /** SQLite: copy together with these (its -wal, -shm, -journal), all from one consistent moment. */
  companions: PlanFile[];
  sqlite: boolean;
}

export interface PlanDir {
  kind: 'dir';
  archivePath: string;
  mode: number;
  mtimeMs: number;
}

export interface Plan {
  roots: PlanRoot[];
  entries: Array<PlanFile | PlanDir>;
  /** Sum of file sizes, companions included. */
  totalBytes: number;
  warnings: string[];
  /** Archive paths (printable) of files and folders left out because their names cannot be restored (names.ts). */
  unnamable: string[];
  /** Archive paths of files and folders that disappeared while the save folders were listed. */
  vanished: string[];
  /** Archive paths of symlinks inside save folders: never followed, never archived (a restore carries them over). */
  symlinks: string[];
}

const SQLITE_COMPANIONS = ['-wal', '-shm', '-journal'];

/** Root names become the top folder inside the archive: readable, unique, safe on every OS. */
export function rootNames(savePaths: string[]): string[] {
  const used = new Set<string>();
  return savePaths.map((p) => {
    let base = path.basename(p).replace(/[^A-Za-z0-9._-]/g, '_');
    if (base === '' || base === '.' || base === '..') base = 'root';
    let name = base;
    for (let i = 2; used.has(name.toLowerCase()); i++) name = `${base}-${i}`;
    used.add(name.toLowerCase());
    return name;
  });
}

export async function planSaves(sel: SaveSelection): Promise<Plan> {
  const warnings: string[] = [];
  const unnamable: string[] = [];
  const vanished: string[] = [];
  const symlinks: string[] = [];
  const roots: PlanRoot[] = [];
  const entries: Array<PlanFile | PlanDir> = [];
  const included = picomatch(sel.include.length ? sel.include : ['**/*'], { dot: true });
  const excluded = sel.exclude.length ? picomatch(sel.exclude, { dot: true }) : () => false;
  const isSqlite = sel.sqlite.length ? picomatch(sel.sqlite, { dot: true, basename: false }) : () => false;
  const names = rootNames(sel.savePaths);

  for (const [i, savePath] of sel.savePaths.entries()) {
    const name = names[i]!;
    let st;
    try {
      st = await fs.stat(savePath); // follows a symlinked save folder on purpose: the operator chose that path
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        warnings.push(`save path ${savePath} does not exist; skipped`);
        continue;
      }
      throw err;
    }
    if (st.isFile()) {
      roots.push({ name, path: savePath, kind: 'file' });
      entries.push(fileEntry(name, savePath, st, isSqlite(path.basename(savePath))));
      continue;
    }
    if (!st.isDirectory()) {
      warnings.push(`save path ${savePath} is neither a file nor a folder; skipped`);
      continue;
    }
    roots.push({ name, path: savePath, kind: 'dir' });
    entries.push({ kind: 'dir', archivePath: name, mode: st.mode, mtimeMs: st.mtimeMs });
    await walkDir(savePath, '', name, { included, excluded, isSqlite, entries, warnings, unnamable, vanished, symlinks });
  }
  let totalBytes = 0;
  for (const e of entries) {
    if (e.kind !== 'file') continue;
    totalBytes += e.size;
    for (const c of e.companions) totalBytes += c.size;
  }
  return { roots, entries, totalBytes, warnings, unnamable, vanished, symlinks };
}

function fileEntry(archivePath: string, absPath: string, st: { size: number; mtimeMs: number; mode: number }, sqlite: boolean): PlanFile {
  return { kind: 'file', archivePath, absPath, size: st.size, mtimeMs: st.mtimeMs, mode: st.mode, companions: [], sqlite };
}

interface WalkCtx {
  included: (p: string) => boolean;
  excluded: (p: string) => boolean;
  isSqlite: (p: string) => boolean;
  entries: Array<PlanFile | PlanDir>;
  warnings: string[];
  unnamable: string[];
  vanished: string[];
  symlinks: string[];
}

async function walkDir(abs: string, rel: string, rootName: string, ctx: WalkCtx): Promise<void> {
  let dirents;
  try {
    // Names as bytes: a name that is not valid UTF-8 would come back as U+FFFD and then not be found.
    dirents = await fs.readdir(abs, { withFileTypes: true, encoding: 'buffer' });
  } catch (err) {
    // A folder removed between listing its parent and reading it: the game moved things.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      ctx.vanished.push(`${rootName}/${rel}/`);
      return;
    }
    throw err;
  }
  dirents.sort((a, b) => Buffer.compare(a.name, b.name));
  const files = new Map<string, PlanFile>();
  const subdirs: Array<{ abs: string; rel: string }> = [];
  for (const d of dirents) {
    const lossy = d.name.toString('utf8');
    const childRel = rel ? `${rel}/${lossy}` : lossy;
    if (!d.isDirectory() && !d.isFile()) {
      if (d.isSymbolicLink()) ctx.symlinks.push(`${rootName}/${rel ? `${printableName(rel)}/` : ''}${printableName(d.name)}`);
      continue;
    }
    if (ctx.excluded(childRel) || (d.isDirectory() && ctx.excluded(`${childRel}/`)) || (d.isFile() && !ctx.included(childRel))) continue;
    // A name the restorer would refuse is never archived: skipped here, named in one summary warning.
    if (!isUtf8Name(d.name) || segmentProblem(lossy) !== null) {
      ctx.unnamable.push(`${rootName}/${rel ? `${printableName(rel)}/` : ''}${printableName(d.name)}${d.isDirectory() ? '/' : ''}`);
      continue;
    }
    const childAbs = path.join(abs, lossy);
    if (d.isDirectory()) {
      subdirs.push({ abs: childAbs, rel: childRel });
      continue;
    }
    let st;
    try {
      st = await fs.lstat(childAbs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        // Rename-on-save: planned anyway; the copier finds it back or reports it as vanished.
        files.set(lossy, fileEntry(`${rootName}/${childRel}`, childAbs, { size: 0, mtimeMs: 0, mode: 0o644 }, ctx.isSqlite(childRel)));
        continue;
      }
      throw err;
    }
    files.set(lossy, fileEntry(`${rootName}/${childRel}`, childAbs, st, ctx.isSqlite(childRel)));
  }
  // Attach SQLite journals to their database so all of them are copied from one moment.
  for (const [fname, f] of files) {
    const suffix = SQLITE_COMPANIONS.find((s) => fname.endsWith(s));
    if (!suffix) continue;
    const base = files.get(fname.slice(0, -suffix.length));
    if (!base) continue;
    base.sqlite = true;
    base.companions.push(f);
    files.delete(fname);
  }
  for (const sd of subdirs) {
    const st = await fs.lstat(sd.abs).catch(() => null);
    if (!st) {
      ctx.vanished.push(`${rootName}/${sd.rel}/`);
      continue;
    }
    ctx.entries.push({ kind: 'dir', archivePath: `${rootName}/${sd.rel}`, mode: st.mode, mtimeMs: st.mtimeMs });
    await walkDir(sd.abs, sd.rel, rootName, ctx);
  }
  ctx.entries.push(...files.values());
}

/**
 * Files and links under a save folder that backups do not take (the game's
 * own rolling backups, excluded temp files, symlinks, names backups cannot
 * carry), as relative paths. A restore carries them over so replacing the
 * folder does not delete them. A path with a name that is not valid UTF-8
 * comes as a Buffer (bytes, `/`-separated): only bytes reach such a file.
 */
export async function listUnselected(root: string, sel: Pick<SaveSelection, 'include' | 'exclude'>): Promise<Array<string | Buffer>> {
  const included = picomatch(sel.include.length ? sel.include : ['**/*'], { dot: true });
  const excluded = sel.exclude.length ? picomatch(sel.exclude, { dot: true }) : () => false;
  const out: Array<string | Buffer> = [];
  const SLASH = Buffer.from('/');
  /** relStr is null once a segment is not valid UTF-8: everything below is unselected. */
  const walk = async (absBuf: Buffer, relBuf: Buffer, relStr: string | null, dirExcluded: boolean): Promise<void> => {
    let dirents;
    try {
      dirents = await fs.readdir(absBuf, { withFileTypes: true, encoding: 'buffer' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
      throw err;
    }
    for (const d of dirents) {
      const bytes = relBuf.length ? Buffer.concat([relBuf, SLASH, d.name]) : d.name;
      const name = d.name.toString('utf8');
      const str = relStr !== null && isUtf8Name(d.name) && segmentProblem(name) === null ? (relStr ? `${relStr}/${name}` : name) : null;
      const childAbs = Buffer.concat([absBuf, Buffer.from(path.sep), d.name]);
      if (d.isDirectory()) await walk(childAbs, bytes, str, dirExcluded || (str !== null && (excluded(str) || excluded(`${str}/`))));
      else if (str === null) out.push(bytes);
      else if (d.isSymbolicLink() || (d.isFile() && (dirExcluded || excluded(str) || !included(str)))) out.push(str);
    }
  };
  await walk(Buffer.from(root), Buffer.alloc(0), '', false);
  return out;
}
