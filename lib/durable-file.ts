import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * Makes a rename durable. Windows cannot open a directory for fsync (and NTFS
 * journals renames itself), so there it is a no-op.
 */
export async function fsyncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** `<file>.<pid>.<6 random>.tmp`: the temp names writeFileAtomic uses, and the only ones sweepStaleTemps removes. */
const TEMP_NAME = /\.\d+\.[a-z0-9]{1,8}\.tmp$/;

/**
 * Replaces `file` so that a crash leaves the old or the new content, never a
 * mix: a uniquely named temp file, fsync, rename over, fsync the folder.
 * Any failure (a full disk at write, sync or rename) removes the temp file
 * before the error goes up, so a failed write leaves nothing behind.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2, 8).padEnd(6, '0')}.tmp`;
  try {
    const fh = await fs.open(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  await fsyncDir(path.dirname(file));
}

/**
 * Removes temp files writeFileAtomic left in `dir` when the process died
 * between creating and renaming one. Call it at start, before anything in
 * this process writes to `dir`. Returns the names removed.
 */
export async function sweepStaleTemps(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!TEMP_NAME.test(name)) continue;
    await fs.rm(path.join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}
