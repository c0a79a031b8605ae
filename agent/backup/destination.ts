import type { Manifest } from './manifest.ts';

/**
 * Where backups are kept. `local.ts` (dataDir/backups/<serverId>) and
 * `rclone.ts` (any rclone remote or path) implement it; the engine only sees
 * this interface (style.md §5). Each destination holds one server's backups as
 * `<id>.<format>` plus `<id>.manifest.json`; the archive is always written
 * before its manifest and removed after it, so a listed manifest means the
 * archive was there.
 */
export interface Destination {
  /** As written in the config ("local", "remote:bucket/path", "/mnt/backups"). */
  readonly target: string;
  /** Copies the archive, then its manifest. */
  put(localArchive: string, manifest: Manifest, signal?: AbortSignal): Promise<void>;
  /** Replaces only the manifest (e.g. after lock/unlock). */
  putManifest(manifest: Manifest, signal?: AbortSignal): Promise<void>;
  /** True when the archive is there with exactly this size and sha256. */
  verify(id: string, expected: { size: number; sha256: string }, signal?: AbortSignal): Promise<boolean>;
  /** Every valid manifest, newest first. Unreadable manifests are skipped (and logged by the implementation). */
  list(signal?: AbortSignal): Promise<Manifest[]>;
  /**
   * Makes the archive available as a local file. A local destination may
   * return its own file instead of copying into `toDir`: callers must not
   * delete `archivePath` unless it is inside `toDir`.
   */
  get(id: string, toDir: string, signal?: AbortSignal): Promise<{ archivePath: string; manifest: Manifest }>;
  /** Removes manifest then archive; a backup that is already gone is not an error. */
  remove(id: string, signal?: AbortSignal): Promise<void>;
}

export const LOCAL_TARGET = 'local';

export function sortNewestFirst(manifests: Manifest[]): Manifest[] {
  return manifests.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.id < b.id ? 1 : -1));
}
