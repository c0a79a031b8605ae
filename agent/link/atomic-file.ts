import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Replace `path` with `data` so a crash leaves either the old or the new
 * content, never a mix: write a temp file, fsync it, rename over, fsync the
 * folder so the rename itself is durable.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await syncDir(dirname(path));
}

/** fsync a folder (makes renames durable). Windows cannot open folders: there it is a no-op. */
export async function syncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // EISDIR/EPERM on Windows, EINVAL on some filesystems: nothing more we can do.
  } finally {
    await fh?.close();
  }
}
