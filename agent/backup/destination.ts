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
  /**
   * Copies the archive, then its manifest. A restic destination stores the
   * archive's files as a snapshot instead and answers its id.
   */
  put(localArchive: string, manifest: Manifest, signal?: AbortSignal, onProgress?: (bytesDone: number, bytesTotal: number | null) => void): Promise<void | PutResult>;
  /** Replaces only the manifest (e.g. after lock/unlock). */
  putManifest(manifest: Manifest, signal?: AbortSignal): Promise<void>;
  /**
   * Where the lock flag lives apart from the manifest (restic: a snapshot tag),
   * so it can be set without the local manifest. Answers the id of the rewritten snapshot.
   */
  setLocked?(id: string, locked: boolean, signal?: AbortSignal): Promise<PutResult>;
  /** True when the archive is there with exactly this size and sha256. */
  verify(id: string, expected: { size: number; sha256: string }, signal?: AbortSignal): Promise<boolean>;
  /** Every valid manifest, newest first. Unreadable manifests are skipped (and logged by the implementation). */
  list(signal?: AbortSignal): Promise<Manifest[]>;
  /**
   * Makes the archive available as a local file. A local destination may
   * return its own file instead of copying into `toDir`: callers must not
   * delete `archivePath` unless it is inside `toDir`.
   */
  get(id: string, toDir: string, signal?: AbortSignal): Promise<Fetched>;
  /** Removes manifest then archive; a backup that is already gone is not an error. */
  remove(id: string, signal?: AbortSignal): Promise<void>;
  /** After retention removed backups: reclaim their space where removal only unlinks them (restic prune). */
  compact?(signal?: AbortSignal): Promise<void>;
}

export interface PutResult {
  /** The restic snapshot id, recorded in the catalog per destination. */
  snapshot?: string;
}

export interface Fetched {
  /** The archive file, or with `tree` a folder holding `<root>/…` as the archive would unpack. */
  archivePath: string;
  manifest: Manifest;
  /** The files are already unpacked (restic): restore places them instead of extracting an archive. */
  tree?: boolean;
}

export const LOCAL_TARGET = 'local';

export function sortNewestFirst(manifests: Manifest[]): Manifest[] {
  return manifests.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.id < b.id ? 1 : -1));
}
