import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { Logger } from '../../lib/logger.ts';
import { silentLogger } from '../../lib/logger.ts';
import { ReconSyncError } from '../../protocol/index.ts';
import { safeParse } from '../../protocol/safe-parse.ts';
import type { ZstdPool } from './compress.ts';
import { sortNewestFirst, type Destination, type Fetched, type PutResult } from './destination.ts';
import { extractArchive } from './extract.ts';
import { parseManifest, serializeManifest, type Manifest } from './manifest.ts';
import { ResticRepo, type ResticSettings } from './restic-runner.ts';

/**
 * A restic repository (design.md §10): each backup is one snapshot of the
 * archive's files, unpacked into a fixed staging folder so that restic's
 * content-defined chunks deduplicate against the previous snapshots and the
 * snapshot's paths stay the same from one backup to the next. The manifest
 * rides inside the snapshot (MANIFEST_NAME), so a catalog can be rebuilt from
 * the repository alone. Snapshots are found by tag, never by a remembered id:
 * `reconsync`, `server=<id>`, `backup=<id>`, `trigger=<…>`, plus `files=`
 * and `bytes=` (what verify expects to find) and `locked` while locked.
 */

export const MANIFEST_NAME = '.reconsync.manifest.json';
/** Extra bytes accepted beyond the manifest's unpacked size while staging. */
const UNPACK_SLACK_BYTES = 1024 * 1024;

const SnapshotSchema = z.object({ id: z.string(), short_id: z.string().optional(), time: z.string(), tags: z.array(z.string()).nullish() });
type Snapshot = z.infer<typeof SnapshotSchema>;
const NodeSchema = z.object({ struct_type: z.literal('node'), type: z.string(), path: z.string(), size: z.number().optional() });
const SummarySchema = z.object({ message_type: z.literal('summary'), snapshot_id: z.string() });
const StatusSchema = z.object({ message_type: z.literal('status'), bytes_done: z.number().optional(), total_bytes: z.number().optional() });

export interface ResticDestinationOptions {
  /** As in records: `restic:<repository>`. */
  target: string;
  repository: string;
  password: string;
  serverId: string;
  restic: Partial<ResticSettings>;
  /** Parent of the per-server staging folder. */
  tmpDir: string;
  /** The zstd workers for unpacking .tar.zst archives into staging. */
  pool: () => ZstdPool | null;
  logger?: Logger;
}

export class ResticDestination implements Destination {
  readonly target: string;
  readonly repo: ResticRepo;
  readonly #serverId: string;
  readonly #stage: string;
  readonly #pool: () => ZstdPool | null;
  readonly #logger: Logger;

  constructor(opts: ResticDestinationOptions) {
    this.target = opts.target;
    this.#serverId = opts.serverId;
    this.#logger = opts.logger ?? silentLogger;
    this.repo = new ResticRepo(opts.repository, opts.password, opts.restic, this.#logger);
    this.#stage = path.join(opts.tmpDir, 'restic-stage', opts.serverId);
    this.#pool = opts.pool;
  }

  async put(localArchive: string, manifest: Manifest, signal?: AbortSignal, onProgress?: (done: number, total: number | null) => void): Promise<PutResult> {
    await this.repo.prepare(signal);
    await fs.rm(this.#stage, { recursive: true, force: true });
    await fs.mkdir(this.#stage, { recursive: true });
    try {
      // extractArchive writes into existing staging folders, as restore prepares them.
      for (const [name, root] of Object.entries(manifest.roots)) if (root.kind === 'dir') await fs.mkdir(path.join(this.#stage, name), { recursive: true });
      await extractArchive({
        archivePath: localArchive, format: manifest.archive.format, pool: manifest.archive.format === 'tar.zst' ? this.#pool() : null,
        roots: manifest.roots, staging: Object.fromEntries(Object.keys(manifest.roots).map((r) => [r, path.join(this.#stage, r)])),
        maxBytes: manifest.archive.unpackedSize + UNPACK_SLACK_BYTES, ...(signal ? { signal } : {}),
      });
      await fs.writeFile(path.join(this.#stage, MANIFEST_NAME), serializeManifest({ ...manifest, locked: false }));
      let snapshot: string | null = null;
      const tags = ['reconsync', `server=${this.#serverId}`, `backup=${manifest.id}`, `trigger=${manifest.trigger}`, `files=${manifest.files.length}`, `bytes=${manifest.archive.unpackedSize}`];
      // `.` from inside the staging folder: the snapshot holds `<root>/…` and the same path every time, so restic finds its parent.
      await this.repo.run(['backup', '--json', '--tag', tags.join(','), '.'], {
        cwd: this.#stage, signal,
        onJson: (line) => {
          const summary = safeParse(SummarySchema, line);
          if (summary.success) snapshot = summary.data.snapshot_id;
          const status = safeParse(StatusSchema, line);
          if (status.success && onProgress) onProgress(status.data.bytes_done ?? 0, status.data.total_bytes ?? null);
        },
      });
      if (!snapshot) throw new ReconSyncError('BACKUP_FAILED', `restic backup on ${this.repo.display} ended without naming its snapshot`);
      return { snapshot };
    } finally {
      await fs.rm(this.#stage, { recursive: true, force: true });
    }
  }

  /** Snapshots are immutable: the lock flag is the `locked` tag (restic rewrites the snapshot under a new id). */
  async putManifest(manifest: Manifest, signal?: AbortSignal): Promise<void> {
    await this.setLocked(manifest.id, manifest.locked, signal);
  }

  async setLocked(id: string, locked: boolean, signal?: AbortSignal): Promise<PutResult> {
    await this.repo.prepare(signal);
    await this.repo.run(['tag', '--tag', this.#tagOf(id), locked ? '--add' : '--remove', 'locked'], { signal });
    const snap = (await this.#snapshots(signal, this.#tagOf(id)))[0];
    return snap ? { snapshot: snap.short_id ?? snap.id.slice(0, 8) } : {};
  }

  /** Verified: the snapshot is listed and holds the expected number of files and bytes. */
  async verify(id: string, _expected: { size: number; sha256: string }, signal?: AbortSignal): Promise<boolean> {
    const snap = (await this.#snapshots(signal, this.#tagOf(id)))[0];
    if (!snap) return false;
    const want = { files: tagNumber(snap, 'files'), bytes: tagNumber(snap, 'bytes') };
    if (want.files === null || want.bytes === null) return false;
    let files = 0;
    let bytes = 0;
    let sawManifest = false;
    await this.repo.run(['ls', '--json', snap.id], {
      signal,
      onJson: (line) => {
        const node = safeParse(NodeSchema, line);
        if (!node.success || node.data.type !== 'file') return;
        if (node.data.path === `/${MANIFEST_NAME}`) sawManifest = true;
        else {
          files++;
          bytes += node.data.size ?? 0;
        }
      },
    });
    return sawManifest && files === want.files && bytes === want.bytes;
  }

  async list(signal?: AbortSignal): Promise<Manifest[]> {
    const out: Manifest[] = [];
    for (const snap of await this.#snapshots(signal, `reconsync,server=${this.#serverId}`)) {
      try {
        const r = await this.repo.run(['dump', snap.id, `/${MANIFEST_NAME}`], { signal });
        const m = parseManifest(r.stdout, `${this.repo.display} snapshot ${snap.short_id ?? snap.id}`);
        out.push({ ...m, locked: (snap.tags ?? []).includes('locked') });
      } catch (err) {
        if (signal?.aborted) throw err;
        this.#logger.warn({ err, target: this.repo.display, snapshot: snap.id }, 'skipping a restic snapshot without a readable manifest');
      }
    }
    return sortNewestFirst(out);
  }

  /** `restic restore --verify` into `toDir`: the files come back unpacked (`tree`), each read back against the repository. */
  async get(id: string, toDir: string, signal?: AbortSignal): Promise<Fetched> {
    const snap = (await this.#snapshots(signal, this.#tagOf(id)))[0];
    if (!snap) throw new ReconSyncError('UNKNOWN_BACKUP', `backup ${id} is not in the restic repository ${this.repo.display}`);
    const tree = path.join(toDir, 'restic-tree');
    await fs.rm(tree, { recursive: true, force: true });
    await fs.mkdir(tree, { recursive: true });
    const r = await this.repo.run(['restore', snap.id, '--target', tree, '--verify'], { signal });
    // restic 0.14 reports some damaged blobs on stderr yet exits 0: any error line means the copy is not whole.
    if (/error|ciphertext|invalid/i.test(r.stderr)) throw this.repo.failure('restore', r.exitCode, r.stderr, false);
    const manifest = parseManifest(await fs.readFile(path.join(tree, MANIFEST_NAME), 'utf8'), `${this.repo.display} snapshot ${snap.id}`);
    if (manifest.id !== id || manifest.serverId !== this.#serverId) throw new ReconSyncError('RESTORE_FAILED', `snapshot ${snap.id} on ${this.repo.display} holds backup ${manifest.id} of ${manifest.serverId}, not ${id}`);
    await fs.rm(path.join(tree, MANIFEST_NAME), { force: true });
    return { archivePath: tree, manifest: { ...manifest, locked: (snap.tags ?? []).includes('locked') }, tree: true };
  }

  /** Forgets the snapshot; its data goes at the next prune (compact). */
  async remove(id: string, signal?: AbortSignal): Promise<void> {
    const snaps = await this.#snapshots(signal, this.#tagOf(id));
    if (snaps.length === 0) return;
    await this.repo.prepare(signal);
    await this.repo.run(['forget', ...snaps.map((s) => s.id)], { signal });
  }

  async compact(signal?: AbortSignal): Promise<void> {
    await this.repo.prepare(signal);
    await this.repo.run(['prune'], { signal });
  }

  /** `restic check --read-data-subset=<subset>`: throws with restic's words when the repository has any error. */
  async check(subset: string, signal?: AbortSignal): Promise<void> {
    await this.repo.prepare(signal);
    await this.repo.run(['check', `--read-data-subset=${subset}`], { signal });
  }

  #tagOf(id: string): string {
    return `reconsync,server=${this.#serverId},backup=${id}`;
  }

  /** Newest first. A repository that does not exist yet has no snapshots. */
  async #snapshots(signal: AbortSignal | undefined, tag: string): Promise<Snapshot[]> {
    const r = await this.repo.run(['snapshots', '--json', '--no-lock', '--tag', tag], { signal, allowed: [1] });
    if (r.exitCode !== 0) {
      if (/unable to open config file|Is there a repository/i.test(r.stderr)) return [];
      throw this.repo.failure('snapshots', r.exitCode, r.stderr, false);
    }
    const parsed = safeParse(z.array(SnapshotSchema).nullable(), JSON.parse(r.stdout || 'null'));
    if (!parsed.success) throw new ReconSyncError('BACKUP_FAILED', `restic snapshots on ${this.repo.display} printed something unexpected`);
    return (parsed.data ?? []).sort((a, b) => (a.time < b.time ? 1 : -1));
  }
}

function tagNumber(snap: Snapshot, name: string): number | null {
  const tag = (snap.tags ?? []).find((t) => t.startsWith(`${name}=`));
  const n = tag ? Number(tag.slice(name.length + 1)) : NaN;
  return Number.isSafeInteger(n) ? n : null;
}
