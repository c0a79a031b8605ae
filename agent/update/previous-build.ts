import { constants } from 'node:fs';
import { cp, lstat, readdir, rm, statfs, writeFile, access } from 'node:fs/promises';
import path from 'node:path';
import type { Clock } from '../../protocol/index.ts';

/** Free bytes for an unprivileged writer on the file system holding `dir`; injectable because a full disk cannot be made on demand. */
export type FreeSpace = (dir: string) => Promise<number>;

export const statfsFreeSpace: FreeSpace = async (dir) => {
  const s = await statfs(dir);
  return Number(s.bavail) * Number(s.bsize);
};

const inside = (child: string, parent: string) => child === parent || child.startsWith(parent + path.sep);

/** Save roots that lie inside the install folder: they are the world, not the build. */
export function savesInside(installDir: string, savePaths: readonly string[]): string[] {
  return savePaths.map((p) => path.resolve(p)).filter((p) => inside(p, path.resolve(installDir)) && p !== path.resolve(installDir));
}

/** Bytes and a fingerprint (path, size, mtime) of the install folder without its saves. */
export async function scanBuild(installDir: string, saves: readonly string[]): Promise<{ bytes: number; fingerprint: string }> {
  let bytes = 0;
  const parts: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (saves.includes(p)) continue;
      if (e.isDirectory()) {
        await walk(p);
      } else {
        const st = await lstat(p);
        bytes += st.size;
        parts.push(`${path.relative(installDir, p)}\0${st.size}\0${st.mtimeMs}`);
      }
    }
  };
  await walk(installDir);
  return { bytes, fingerprint: parts.join('\n') };
}

const COMPLETE = '.reconsync-complete';

/**
 * Copies the install folder (without the saves) to `dest`. COPYFILE_FICLONE
 * makes a reflink where the file system can (btrfs, XFS); elsewhere Node's
 * copy uses copy_file_range, so the data does not pass through this process.
 * A marker file says the copy is whole.
 */
export async function keepPreviousBuild(installDir: string, saves: readonly string[], dest: string, clock: Clock): Promise<void> {
  await rm(dest, { recursive: true, force: true });
  await cp(installDir, dest, {
    recursive: true, mode: constants.COPYFILE_FICLONE, preserveTimestamps: true, verbatimSymlinks: true,
    filter: (src) => !saves.some((s) => inside(path.resolve(src), s)),
  });
  await writeFile(path.join(dest, COMPLETE), new Date(clock.now()).toISOString());
}

export async function isCompleteCopy(dest: string): Promise<boolean> {
  return access(path.join(dest, COMPLETE)).then(() => true, () => false);
}

/** Removes everything of the install folder but the saves (and the folders that lead to them). */
async function clearBuild(dir: string, saves: readonly string[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (saves.includes(p)) continue;
    if (e.isDirectory() && saves.some((s) => inside(s, p))) await clearBuild(p, saves);
    else await rm(p, { recursive: true, force: true });
  }
}

/** Puts the kept build back in place: the install folder ends up as it was, its saves untouched. */
export async function restorePreviousBuild(previous: string, installDir: string, saves: readonly string[]): Promise<void> {
  if (!(await isCompleteCopy(previous))) throw new Error(`the copy of the previous build in ${previous} is incomplete; reinstall with reconsync server install`);
  await clearBuild(installDir, saves);
  await cp(previous, installDir, {
    recursive: true, force: true, mode: constants.COPYFILE_FICLONE, preserveTimestamps: true, verbatimSymlinks: true,
    filter: (src) => path.basename(src) !== COMPLETE || path.dirname(src) !== previous,
  });
}
