import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../lib/logger.ts';
import { silentLogger } from '../../lib/logger.ts';
import { ReconSyncError } from '../../protocol/index.ts';
import { LOCAL_TARGET, sortNewestFirst, type Destination } from './destination.ts';
import { exists, fsyncDir, isErrno, readdirOrEmpty, sha256File } from './fs-util.ts';
import { renameRetrying } from './rename-retry.ts';
import { archiveFileName, manifestFileName, parseManifest, writeManifest, type Manifest } from './manifest.ts';

export function localBackupDir(dataDir: string, serverId: string): string {
  return path.join(dataDir, 'backups', serverId);
}

/** The agent's own backups ("local"): `dataDir/backups/<serverId>/`. */
export interface OwnFolderOptions { dataDir: string; serverId: string; logger?: Logger }
/** A folder destination (a mounted NAS, a second disk): `<folder>/<serverId>/`, the layout rclone used for it. */
export interface PathTargetOptions { folder: string; serverId: string; logger?: Logger }

/**
 * Backups in a folder on this machine, with plain file operations: the agent's
 * own ("local", which the archiver writes straight into) or a path destination,
 * which needs no rclone binary.
 */
export class LocalDestination implements Destination {
  readonly target: string;
  readonly dir: string;
  readonly #logger: Logger;

  constructor(opts: OwnFolderOptions | PathTargetOptions) {
    if ('folder' in opts) {
      this.target = opts.folder;
      this.dir = path.join(opts.folder, opts.serverId);
    } else {
      this.target = LOCAL_TARGET;
      this.dir = localBackupDir(opts.dataDir, opts.serverId);
    }
    this.#logger = opts.logger ?? silentLogger;
  }

  archivePath(m: Pick<Manifest, 'id' | 'archive'>): string {
    return path.join(this.dir, archiveFileName(m.id, m.archive.format));
  }

  async put(localArchive: string, manifest: Manifest, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    await fs.mkdir(this.dir, { recursive: true });
    const dest = this.archivePath(manifest);
    if (path.resolve(localArchive) !== path.resolve(dest)) {
      const partial = `${dest}.partial`;
      try {
        await fs.copyFile(localArchive, partial);
        const fh = await fs.open(partial, 'r+');
        await fh.sync().finally(() => fh.close());
        await renameRetrying(partial, dest);
      } catch (err) {
        // A full disk mid-copy must not leave a half archive taking the space (the start-up sweep is the fallback).
        await fs.rm(partial, { force: true }).catch(() => undefined);
        throw err;
      }
      await fsyncDir(this.dir);
    }
    await writeManifest(this.dir, manifest);
  }

  async putManifest(manifest: Manifest): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    await writeManifest(this.dir, manifest);
  }

  async verify(id: string, expected: { size: number; sha256: string }, signal?: AbortSignal): Promise<boolean> {
    const m = await this.readManifest(id);
    if (!m) return false;
    const file = this.archivePath(m);
    try {
      const st = await fs.stat(file);
      if (st.size !== expected.size) return false;
      return (await sha256File(file, signal)).sha256 === expected.sha256;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw err;
    }
  }

  async list(): Promise<Manifest[]> {
    const names = await readdirOrEmpty(this.dir);
    const out: Manifest[] = [];
    for (const name of names) {
      if (!name.endsWith('.manifest.json')) continue;
      try {
        const m = parseManifest(await fs.readFile(path.join(this.dir, name), 'utf8'), path.join(this.dir, name));
        // A manifest without its archive is not a backup (e.g. keepLocal: false removed it).
        if (await exists(this.archivePath(m))) out.push(m);
      } catch (err) {
        this.#logger.warn({ err, file: name }, 'skipping unreadable backup manifest');
      }
    }
    return sortNewestFirst(out);
  }

  async get(id: string): Promise<{ archivePath: string; manifest: Manifest }> {
    const m = await this.readManifest(id);
    if (!m || !(await exists(this.archivePath(m)))) throw new ReconSyncError('UNKNOWN_BACKUP', `backup ${id} is not in ${this.dir}`);
    return { archivePath: this.archivePath(m), manifest: m };
  }

  async remove(id: string): Promise<void> {
    const m = await this.readManifest(id);
    await fs.rm(path.join(this.dir, manifestFileName(id)), { force: true });
    const formats: Manifest['archive']['format'][] = m ? [m.archive.format] : ['tar.zst', 'tar.gz'];
    for (const f of formats) await fs.rm(path.join(this.dir, archiveFileName(id, f)), { force: true });
    await fsyncDir(this.dir).catch(() => undefined);
  }

  async readManifest(id: string): Promise<Manifest | null> {
    const file = path.join(this.dir, manifestFileName(id));
    try {
      return parseManifest(await fs.readFile(file, 'utf8'), file);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return null;
      throw err;
    }
  }

  /**
   * After a crash: `.partial` files are half-written archives and never count;
   * an archive without a manifest was renamed but never described. Both go.
   * Returns the names removed.
   */
  async sweep(): Promise<string[]> {
    const names = await readdirOrEmpty(this.dir);
    const removed: string[] = [];
    const manifests = new Set(names.filter((n) => n.endsWith('.manifest.json')).map((n) => n.slice(0, -'.manifest.json'.length)));
    for (const name of names) {
      const orphan = /^(.*)\.tar\.(zst|gz)$/.exec(name);
      if (name.endsWith('.partial') || name.endsWith('.tmp') || (orphan && !manifests.has(orphan[1]!))) {
        await fs.rm(path.join(this.dir, name), { force: true, recursive: true });
        removed.push(name);
      }
    }
    return removed;
  }
}
