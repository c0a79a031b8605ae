import fs from 'node:fs/promises';
import path from 'node:path';
import picomatch from 'picomatch';

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
    await walkDir(savePath, '', name, { included, excluded, isSqlite, entries, warnings });
  }
  let totalBytes = 0;
  for (const e of entries) {
    if (e.kind !== 'file') continue;
    totalBytes += e.size;
    for (const c of e.companions) totalBytes += c.size;
  }
  return { roots, entries, totalBytes, warnings };
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
}

async function walkDir(abs: string, rel: string, rootName: string, ctx: WalkCtx): Promise<void> {
  let dirents;
  try {
    dirents = await fs.readdir(abs, { withFileTypes: true });
  } catch (err) {
    // A folder removed between listing its parent and reading it: the game moved things; note it.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      ctx.warnings.push(`folder ${abs} vanished during the scan`);
      return;
    }
    throw err;
  }
  dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files = new Map<string, PlanFile>();
  const subdirs: Array<{ abs: string; rel: string }> = [];
  for (const d of dirents) {
    const childRel = rel ? `${rel}/${d.name}` : d.name;
    const childAbs = path.join(abs, d.name);
    if (d.isDirectory()) {
      if (ctx.excluded(childRel) || ctx.excluded(`${childRel}/`)) continue;
      subdirs.push({ abs: childAbs, rel: childRel });
    } else if (d.isFile()) {
      if (ctx.excluded(childRel) || !ctx.included(childRel)) continue;
      let st;
      try {
        st = await fs.lstat(childAbs);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          // Rename-on-save: the file may be back a moment later; the copier retries by name.
          files.set(d.name, fileEntry(`${rootName}/${childRel}`, childAbs, { size: 0, mtimeMs: 0, mode: 0o644 }, ctx.isSqlite(childRel)));
          continue;
        }
        throw err;
      }
      files.set(d.name, fileEntry(`${rootName}/${childRel}`, childAbs, st, ctx.isSqlite(childRel)));
    } else if (d.isSymbolicLink()) {
      ctx.warnings.push(`symlink ${childAbs} not archived (links are not followed inside save folders)`);
    }
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
    if (!st) continue;
    ctx.entries.push({ kind: 'dir', archivePath: `${rootName}/${sd.rel}`, mode: st.mode, mtimeMs: st.mtimeMs });
    await walkDir(sd.abs, sd.rel, rootName, ctx);
  }
  ctx.entries.push(...files.values());
}

/**
 * Files and links under a save folder that backups do not take (the game's
 * own rolling backups, excluded temp files, symlinks), as relative paths.
 * A restore carries them over so replacing the folder does not delete them.
 */
export async function listUnselected(root: string, sel: Pick<SaveSelection, 'include' | 'exclude'>): Promise<string[]> {
  const included = picomatch(sel.include.length ? sel.include : ['**/*'], { dot: true });
  const excluded = sel.exclude.length ? picomatch(sel.exclude, { dot: true }) : () => false;
  const out: string[] = [];
  const walk = async (abs: string, rel: string, dirExcluded: boolean): Promise<void> => {
    let dirents;
    try {
      dirents = await fs.readdir(abs, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
      throw err;
    }
    for (const d of dirents) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) await walk(path.join(abs, d.name), r, dirExcluded || excluded(r) || excluded(`${r}/`));
      else if (d.isSymbolicLink() || (d.isFile() && (dirExcluded || excluded(r) || !included(r)))) out.push(r);
    }
  };
  await walk(root, '', false);
  return out;
}
