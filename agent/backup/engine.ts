import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { VERSION } from '../../cli/version.ts';
import { silentLogger, type Logger } from '../../lib/logger.ts';
import {
  ReconSyncError, systemClock, type AlertKind, type BackupProgress, type BackupRecord, type Clock, type EventData, type RecordTopic,
} from '../../protocol/index.ts';
import type { AdminChannel, ResolvedServer, ServerControl } from '../types.ts';
import { createArchive, type StatFs } from './archive.ts';
import { Catalog, type CatalogEntry } from './catalog.ts';
import { formatFromConfig, ZstdPool } from './compress.ts';
import { LOCAL_TARGET, type Destination } from './destination.ts';
import { LocalDestination } from './local.ts';
import { toBackupRecord, writeManifest, type Manifest } from './manifest.ts';
import { quiesce } from './quiesce.ts';
import { DefaultRcloneSettings, RcloneDestination, redactSecrets, type RcloneSettings } from './rclone.ts';
import { planRetention } from './retention.ts';
import { recoverSwaps, type RecoveredRestore } from './swap.ts';
import { waitUntilSettled } from './settle.ts';
import { retryPendingUploads, uploadAll } from './upload.ts';
import { planSaves } from './walk.ts';
import { restoreBackup, type RestoreRequest, type RestoreResult } from './engine-restore.ts';

export type PublishRecord = <T extends RecordTopic>(topic: T, data: EventData<T>) => void | Promise<void>;
export type PublishState = (topic: 'backup.progress', data: BackupProgress) => void;

export const DefaultEngineOptions = {
  uploadAttempts: 3,
  /** First retry delay; each further retry waits 4× longer. */
  uploadBackoffMs: 2_000,
  /** Progress events at most this often while bytes move. */
  progressIntervalMs: 500,
  /** zstd worker threads are ended after this long with no job: an idle agent should not hold two wasm isolates. */
  poolIdleMs: 60_000,
} satisfies Record<string, number>;

export interface BackupEngineOptions extends Partial<typeof DefaultEngineOptions> {
  dataDir: string;
  rclone?: Partial<RcloneSettings>;
  clock?: Clock;
  logger?: Logger;
  publishRecord?: PublishRecord;
  publishState?: PublishState;
  /** Backup ids; default `YYYYMMDD-HHMMSS-xxxx` (UTC, 4 random hex). */
  newId?: (serverId: string, nowMs: number) => string;
  toolVersion?: string;
  statfs?: StatFs;
  /** Destinations by target; default: "local" → LocalDestination, anything else → RcloneDestination. */
  destinationFor?: (target: string, server: ResolvedServer) => Destination;
  zstdPoolSize?: number;
}

export interface CreateRequest {
  trigger: BackupRecord['trigger'];
  note?: string;
  signal?: AbortSignal;
}

interface RunFlags {
  /** Pre-restore: the server is already stopped, keep the copy local only and skip retention. */
  preRestore?: boolean;
}

/**
 * A record as it leaves the agent: a destination written as an rclone connection
 * string (`:s3,secret_access_key=...:bucket`) must not carry its secret to the hub or Discord.
 */
export function publicRecord(r: BackupRecord): BackupRecord {
  return { ...r, destinations: r.destinations.map((d) => ({ ...d, target: redactSecrets(d.target), ...(d.error !== undefined ? { error: redactSecrets(d.error) } : {}) })) };
}

export function defaultBackupId(_serverId: string, nowMs: number): string {
  const iso = new Date(nowMs).toISOString(); // 2026-01-02T03:04:05.678Z
  return `${iso.slice(0, 10).replace(/-/g, '')}-${iso.slice(11, 19).replace(/:/g, '')}-${randomBytes(2).toString('hex')}`;
}

/** One per agent: backups, retention, restore and the backup watchdog for all its servers. */
export class BackupEngine {
  readonly opts: BackupEngineOptions & typeof DefaultEngineOptions;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly catalog: Catalog;
  private readonly jobs = new Map<string, string>();
  private pool: ZstdPool | null = null;
  private readonly overdueAlerted = new Map<string, number>();

  constructor(options: BackupEngineOptions) {
    this.opts = { ...DefaultEngineOptions, ...options };
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.catalog = new Catalog(options.dataDir);
  }

  /**
   * At agent start: delete half-written archives, finish or roll back restores a
   * crash interrupted (reported as restore.completed records), and rebuild a
   * lost catalog from the destinations' manifests.
   */
  async init(servers: ResolvedServer[]): Promise<RecoveredRestore[]> {
    await fs.rm(this.tmpDir(), { recursive: true, force: true });
    const recovered = await recoverSwaps(this.opts.dataDir);
    for (const r of recovered) {
      await this.record('restore.completed', {
        serverId: r.serverId, backupId: r.backupId, ok: r.action === 'completed', preRestoreBackupId: r.preRestoreBackupId,
        rolledBack: r.action === 'rolled-back', at: this.nowIso(),
        message: r.action === 'completed' ? 'the agent restarted after the restored world was in place; the restore was completed' : 'the agent restarted in the middle of a restore; the previous world was put back',
      });
    }
    for (const server of servers) {
      const local = new LocalDestination({ dataDir: this.opts.dataDir, serverId: server.id, logger: this.logger });
      const swept = await local.sweep();
      if (swept.length) this.logger.warn({ serverId: server.id, files: swept }, 'removed unfinished backup files left by a crash');
      if (!(await this.catalog.load(server.id))) await this.rebuildCatalog(server);
    }
    return recovered;
  }

  /** Re-reads every destination's manifests; a listed copy counts as verified (it was verified before its manifest was written). */
  async rebuildCatalog(server: ResolvedServer): Promise<BackupRecord[]> {
    const byId = new Map<string, { manifest: Manifest; targets: string[] }>();
    for (const d of this.destinations(server, true)) {
      try {
        for (const m of await d.list()) {
          if (m.serverId !== server.id) continue;
          const e = byId.get(m.id) ?? { manifest: m, targets: [] };
          e.targets.push(d.target);
          e.manifest.locked ||= m.locked;
          byId.set(m.id, e);
        }
      } catch (err) {
        this.logger.warn({ err, serverId: server.id, target: redactSecrets(d.target) }, 'could not list backups on a destination while rebuilding the catalog');
      }
    }
    const entries: CatalogEntry[] = [...byId.values()].map(({ manifest, targets }) => ({
      record: toBackupRecord(manifest, targets.map((t) => ({ target: t, verified: true }))),
      unpackedSize: manifest.archive.unpackedSize,
      pending: [],
    }));
    await this.catalog.replace(server.id, entries);
    return this.catalog.records(server.id);
  }

  isBusy(serverId: string): string | null {
    return this.jobs.get(serverId) ?? null;
  }

  async create(server: ResolvedServer, control: ServerControl | null, admin: AdminChannel | null, req: CreateRequest): Promise<BackupRecord> {
    const release = this.acquire(server.id, 'backup');
    try {
      return await this.runBackup(server, control, admin, req, {});
    } finally {
      release();
    }
  }

  /** Newest first, as the hub and the API show them (destination targets without credentials). */
  async list(serverId: string): Promise<BackupRecord[]> {
    return (await this.catalog.records(serverId)).map(publicRecord);
  }

  async lock(server: ResolvedServer, backupId: string, locked: boolean): Promise<BackupRecord> {
    const entry = await this.entry(server.id, backupId);
    entry.record = { ...entry.record, locked };
    await this.catalog.put(server.id, entry);
    // Carry the flag into every manifest so a rebuilt catalog still knows.
    const local = new LocalDestination({ dataDir: this.opts.dataDir, serverId: server.id });
    const manifest = await local.readManifest(backupId);
    if (manifest) {
      const updated = { ...manifest, locked };
      for (const d of this.destinations(server, true)) {
        if (!entry.record.destinations.some((x) => x.target === d.target && x.verified)) continue;
        await d.putManifest(updated).catch((err: unknown) => this.logger.warn({ err, serverId: server.id, target: redactSecrets(d.target) }, 'could not update the manifest on a destination after lock'));
      }
    }
    await this.record('backup.updated', entry.record);
    return publicRecord(entry.record);
  }

  async restore(server: ResolvedServer, control: ServerControl | null, admin: AdminChannel | null, req: RestoreRequest): Promise<RestoreResult> {
    const release = this.acquire(server.id, 'restore');
    try {
      return await restoreBackup(this, server, control, req, () => this.preRestoreBackup(server));
    } finally {
      release();
    }
  }

  /** Alerts `backup_overdue` when the newest verified backup is older than `backup.maxAgeHours`; true when overdue. */
  async checkOverdue(server: ResolvedServer): Promise<boolean> {
    const maxAgeHours = server.config.backup.maxAgeHours;
    if (maxAgeHours === undefined) return false;
    const maxAgeMs = maxAgeHours * 3_600_000;
    const newest = (await this.catalog.records(server.id)).find((r) => r.destinations.some((d) => d.verified));
    const now = this.clock.now();
    const ageMs = newest ? now - Date.parse(newest.createdAt) : Infinity;
    if (ageMs <= maxAgeMs) {
      this.overdueAlerted.delete(server.id);
      return false;
    }
    // One alert per episode, repeated every maxAgeHours while it lasts.
    const last = this.overdueAlerted.get(server.id);
    if (last === undefined || now - last >= maxAgeMs) {
      this.overdueAlerted.set(server.id, now);
      await this.alert(server.id, 'backup_overdue', newest
        ? `no verified backup of ${server.id} for ${(ageMs / 3_600_000).toFixed(1)} h (limit ${maxAgeHours} h); the newest is ${newest.id}`
        : `${server.id} has no verified backup at all (limit ${maxAgeHours} h)`);
    }
    return true;
  }

  async close(): Promise<void> {
    clearTimeout(this.poolIdleTimer);
    await this.pool?.close();
    this.pool = null;
  }

  // ------------------------------------------------------------ internals shared with engine-restore.ts

  zstdPool(): ZstdPool {
    this.pool ??= new ZstdPool(this.opts.zstdPoolSize !== undefined ? { size: this.opts.zstdPoolSize } : {});
    return this.pool;
  }

  tmpDir(): string {
    return path.join(this.opts.dataDir, 'tmp');
  }

  nowIso(): string {
    return new Date(this.clock.now()).toISOString();
  }

  async entry(serverId: string, backupId: string): Promise<CatalogEntry> {
    const entry = (await this.catalog.entries(serverId)).get(backupId);
    if (!entry) throw new ReconSyncError('UNKNOWN_BACKUP', `no backup "${backupId}" for ${serverId}; list them with /backup list`);
    return entry;
  }

  destinations(server: ResolvedServer, includeLocal: boolean): Destination[] {
    const targets = [...new Set([...(includeLocal ? [LOCAL_TARGET] : []), ...server.config.backup.destinations.filter((t) => t !== LOCAL_TARGET)])];
    return targets.map((t) => this.destination(t, server));
  }

  destination(target: string, server: ResolvedServer): Destination {
    if (this.opts.destinationFor) return this.opts.destinationFor(target, server);
    if (target === LOCAL_TARGET) return new LocalDestination({ dataDir: this.opts.dataDir, serverId: server.id, logger: this.logger }) satisfies Destination;
    return new RcloneDestination({
      target, serverId: server.id, rclone: { ...DefaultRcloneSettings, ...this.opts.rclone }, tmpDir: this.tmpDir(), logger: this.logger,
    }) satisfies Destination;
  }

  progress(serverId: string, jobId: string): (phase: BackupProgress['phase'], bytesDone: number, bytesTotal: number | null, target?: string) => void {
    let lastAt = -Infinity;
    let lastPhase = '';
    return (phase, bytesDone, bytesTotal, target) => {
      const now = this.clock.now();
      const key = `${phase}:${target ?? ''}`;
      if (key === lastPhase && now - lastAt < this.opts.progressIntervalMs && bytesDone !== bytesTotal) return;
      lastAt = now;
      lastPhase = key;
      try {
        this.opts.publishState?.('backup.progress', { serverId, jobId, phase, bytesDone, bytesTotal, ...(target ? { target: redactSecrets(target) } : {}) });
      } catch (err) {
        this.logger.warn({ err }, 'publishing backup progress failed');
      }
    };
  }

  async record<T extends RecordTopic>(topic: T, data: EventData<T>): Promise<void> {
    try {
      const isBackup = topic === 'backup.completed' || topic === 'backup.updated';
      await this.opts.publishRecord?.(topic, isBackup ? (publicRecord(data as BackupRecord) as EventData<T>) : data);
    } catch (err) {
      this.logger.error({ err, topic }, 'could not queue a record for the hub');
    }
  }

  async alert(serverId: string, kind: AlertKind, message: string): Promise<void> {
    this.logger.warn({ serverId, kind }, message);
    await this.record('alert', { serverId, kind, message: message.slice(0, 2000), at: this.nowIso() });
  }

  private acquire(serverId: string, kind: string): () => void {
    const running = this.jobs.get(serverId);
    if (running) throw new ReconSyncError('BUSY', `a ${running} is already running for ${serverId}; wait for it to finish, then try again`);
    this.jobs.set(serverId, kind);
    clearTimeout(this.poolIdleTimer);
    return () => {
      this.jobs.delete(serverId);
      if (this.jobs.size === 0 && this.pool) {
        this.poolIdleTimer = setTimeout(() => this.releaseIdlePool(), this.opts.poolIdleMs);
        this.poolIdleTimer.unref();
      }
    };
  }

  private poolIdleTimer: NodeJS.Timeout | undefined;

  /** zstd worker threads alive now (0 while idle). */
  get zstdWorkers(): number {
    return this.pool?.size ?? 0;
  }

  private releaseIdlePool(): void {
    if (this.jobs.size > 0 || !this.pool) return;
    const pool = this.pool;
    this.pool = null;
    void pool.close().catch((err: unknown) => this.logger.warn({ err }, 'closing idle zstd workers failed'));
  }

  private async preRestoreBackup(server: ResolvedServer): Promise<string | null> {
    const plan = await planSaves(server);
    if (plan.roots.length === 0) return null;
    return (await this.runBackup(server, null, null, { trigger: 'pre-restore' }, { preRestore: true })).id;
  }

  private async runBackup(server: ResolvedServer, control: ServerControl | null, admin: AdminChannel | null, req: CreateRequest, flags: RunFlags): Promise<BackupRecord> {
    const cfg = server.config.backup;
    const log = this.logger.child({ serverId: server.id });
    const now = this.clock.now();
    const id = (this.opts.newId ?? defaultBackupId)(server.id, now);
    const progress = this.progress(server.id, id);
    const local = new LocalDestination({ dataDir: this.opts.dataDir, serverId: server.id, logger: log });
    const previous = (await this.catalog.records(server.id)).find((r) => r.trigger !== 'pre-restore');
    const prevEntry = previous ? (await this.catalog.entries(server.id)).get(previous.id) : undefined;
    try {
      // 1. Save and settle.
      const warnings: string[] = [];
      let resume = async () => undefined as void;
      if (!flags.preRestore) {
        progress('saving', 0, null);
        const q = await quiesce(server, control, admin, { logger: log, ...(req.signal ? { signal: req.signal } : {}) });
        warnings.push(...q.warnings);
        resume = q.resume;
      }
      let archived;
      try {
        if (!flags.preRestore) {
          progress('settling', 0, null);
          const s = await waitUntilSettled(server, { settleMs: cfg.settleMs, settleTimeoutMs: cfg.settleTimeoutMs, clock: this.clock, ...(req.signal ? { signal: req.signal } : {}) });
          if (!s.settled) warnings.push(`save files were still changing after ${Math.round(s.waitedMs / 1000)} s; archived anyway, files that changed during the copy were re-read`);
        }
        // 2. Archive.
        progress('archiving', 0, null);
        const ratio = prevEntry && prevEntry.unpackedSize > 0 ? Math.min(1, (prevEntry.record.size / prevEntry.unpackedSize) * 1.2) : 1;
        const format = formatFromConfig(cfg.format);
        archived = await createArchive({
          source: server, dir: local.dir, id, format, pool: format === 'tar.zst' ? this.zstdPool() : null, tmpDir: this.tmpDir(),
          clock: this.clock, estimateRatio: ratio,
          ...(req.signal ? { signal: req.signal } : {}),
          ...(this.opts.statfs ? { statfs: this.opts.statfs } : {}),
          onProgress: (done, total) => progress('archiving', done, total),
        });
      } finally {
        await resume();
      }
      const manifest: Manifest = {
        manifestVersion: 1, id, serverId: server.id, game: server.profile.id, createdAt: new Date(now).toISOString(), trigger: req.trigger,
        ...(req.note !== undefined ? { note: req.note } : {}),
        roots: archived.roots, files: archived.files,
        archive: { sha256: archived.sha256, size: archived.size, format: archived.archivePath.endsWith('.tar.gz') ? 'tar.gz' : 'tar.zst', unpackedSize: archived.unpackedSize },
        toolVersion: this.opts.toolVersion ?? VERSION, locked: false, warnings: [...warnings, ...archived.warnings],
      };
      await writeManifest(local.dir, manifest);
      const remotes = flags.preRestore ? [] : this.destinations(server, false);
      const entry: CatalogEntry = {
        record: toBackupRecord(manifest, [{ target: LOCAL_TARGET, verified: true }, ...remotes.map((d) => ({ target: d.target, verified: false }))]),
        unpackedSize: archived.unpackedSize,
        pending: remotes.map((d) => d.target),
      };
      await this.catalog.put(server.id, entry);
      log.info({ backupId: id, size: archived.size, files: archived.files.length }, 'backup archived');

      // 3. Watchdog: a much smaller archive than last time usually means a lost or reset world.
      if (previous && previous.size > 0 && archived.size < previous.size * cfg.shrinkAlertRatio) {
        await this.alert(server.id, 'backup_shrunk', `backup ${id} of ${server.id} is ${((archived.size / previous.size) * 100).toFixed(0)} % of the previous one (${archived.size} vs ${previous.size} bytes); check that the world is intact`);
      }

      // 4. Off-site copies, each verified before it counts.
      if (remotes.length) {
        await uploadAll(this, server, entry, manifest, archived.archivePath, remotes, progress, req.signal);
        await retryPendingUploads(this, server, progress, id, req.signal);
      }

      // 5. The local copy goes only once an off-site copy is verified and nothing still needs it as a source.
      if (!cfg.keepLocal && entry.pending.length === 0 && entry.record.destinations.some((d) => d.target !== LOCAL_TARGET && d.verified)) {
        await local.remove(id);
        entry.record = { ...entry.record, destinations: entry.record.destinations.filter((d) => d.target !== LOCAL_TARGET) };
        await this.catalog.put(server.id, entry);
      }

      // 6. Retention.
      if (!flags.preRestore) {
        progress('retention', 0, null);
        await this.applyRetention(server);
      }
      progress('done', archived.size, archived.size);
      await this.record('backup.completed', entry.record);
      return publicRecord(entry.record);
    } catch (err) {
      const e = err instanceof ReconSyncError ? err : new ReconSyncError('BACKUP_FAILED', `backup of ${server.id} failed: ${(err as Error).message}`, { cause: err });
      if (e.code !== 'BUSY') await this.alert(server.id, 'backup_failed', e.message);
      throw e;
    }
  }

  /** Applies `backup.keep` per destination; deletion failures are logged and retried at the next run. */
  async applyRetention(server: ResolvedServer): Promise<void> {
    const cfg = server.config.backup;
    const entries = await this.catalog.entries(server.id);
    const plan = planRetention(
      [...entries.values()].map((e) => ({ id: e.record.id, createdAt: e.record.createdAt, locked: e.record.locked, uploadPending: e.pending.length > 0, destinations: e.record.destinations })),
      cfg.keep,
      cfg.timezone ? { timeZone: cfg.timezone } : {},
    );
    for (const [target, ids] of plan) {
      const dest = this.destination(target, server);
      for (const id of ids) {
        try {
          await dest.remove(id);
        } catch (err) {
          this.logger.warn({ err, serverId: server.id, backupId: id, target: redactSecrets(target) }, 'retention could not delete a backup; will try again next time');
          continue;
        }
        const e = entries.get(id);
        if (!e) continue;
        e.record = { ...e.record, destinations: e.record.destinations.filter((d) => d.target !== target) };
        const gone = e.record.destinations.length === 0;
        if (gone) await this.catalog.delete(server.id, id);
        else await this.catalog.put(server.id, e);
        await this.record('backup.removed', { serverId: server.id, backupId: id, target: redactSecrets(target) });
        if (gone) await this.record('backup.removed', { serverId: server.id, backupId: id, target: null });
      }
    }
  }
}
