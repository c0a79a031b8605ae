import fs from 'node:fs/promises';
import path from 'node:path';
import { ReconSyncError } from '../../protocol/index.ts';
import { safeSegments } from './extract.ts';
import { isErrno } from './fs-util.ts';
import type { Manifest } from './manifest.ts';

/**
 * The restore step for a backup that comes back already unpacked (a restic
 * snapshot restored into a folder): instead of extracting an archive, every
 * file the manifest names is moved from that folder into staging. A file that
 * is missing or has another size than the manifest says refuses the whole
 * restore before the world is touched, as a corrupt archive does.
 */

export interface PlaceTreeOptions {
  /** Folder holding `<root>/…` as the archive would unpack. */
  tree: string;
  manifest: Pick<Manifest, 'id' | 'roots' | 'files'>;
  /** Root name → staging path (a folder for 'dir' roots, a file path for 'file' roots). Roots not listed are skipped. */
  staging: Record<string, string>;
  only?: (archivePath: string) => boolean;
  signal?: AbortSignal;
  onProgress?: (bytesDone: number) => void;
}

export async function placeTree(o: PlaceTreeOptions): Promise<{ files: number; bytes: number; warnings: string[] }> {
  let files = 0;
  let bytes = 0;
  for (const f of o.manifest.files) {
    o.signal?.throwIfAborted();
    if (o.only && !o.only(f.path)) continue;
    const segs = safeSegments(f.path);
    const root = segs[0]!;
    const stagingRoot = o.staging[root];
    const kind = o.manifest.roots[root]?.kind;
    if (stagingRoot === undefined || kind === undefined) continue;
    const src = path.join(o.tree, ...segs);
    const st = await fs.lstat(src).catch((err: unknown) => {
      if (isErrno(err, 'ENOENT')) return null;
      throw err;
    });
    if (!st || !st.isFile() || st.size !== f.size) {
      const found = !st ? 'is missing' : !st.isFile() ? 'is not a file' : `has ${st.size} bytes`;
      throw new ReconSyncError('RESTORE_FAILED', `backup ${o.manifest.id} came back incomplete: ${f.path} ${found}, the manifest says ${f.size} bytes; nothing was changed. Restore from another destination.`);
    }
    const dst = kind === 'file' ? stagingRoot : path.join(stagingRoot, ...segs.slice(1));
    await fs.mkdir(path.dirname(dst), { recursive: true });
    await fs.rename(src, dst).catch(async (err: unknown) => {
      if (!isErrno(err, 'EXDEV')) throw err;
      // Staging sits beside the save folder, maybe on another disk than dataDir.
      await fs.copyFile(src, dst);
      await fs.utimes(dst, st.atime, st.mtime);
    });
    files++;
    bytes += f.size;
    o.onProgress?.(bytes);
  }
  // Folders without files (the manifest lists files only) come back too, as an archive's directory entries do.
  if (!o.only) {
    for (const [root, stagingRoot] of Object.entries(o.staging)) {
      if (o.manifest.roots[root]?.kind !== 'dir') continue;
      const from = path.join(o.tree, ...safeSegments(root));
      const entries = await fs.readdir(from, { withFileTypes: true, recursive: true }).catch(() => []);
      for (const e of entries) {
        if (e.isDirectory()) await fs.mkdir(path.join(stagingRoot, path.relative(from, path.join(e.parentPath, e.name))), { recursive: true });
      }
    }
  }
  return { files, bytes, warnings: [] };
}
