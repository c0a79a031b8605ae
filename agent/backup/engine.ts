import fs from 'node:fs/promises';
import path from 'node:path';
import { silentLogger, type Logger } from '../../lib/logger.ts';
import {
  ReconSyncError, systemClock, type AlertKind, type BackupProgress, type BackupRecord, type Clock, type EventData, type RecordTopic,
} from '../../protocol/index.ts';
import type { AdminChannel, ResolvedServer, ServerControl } from '../types.ts';
import type { StatFs } from './archive.ts';
import { Catalog, type CatalogEntry } from './catalog.ts';
import { ZstdPool } from './compress.ts';
import { LOCAL_TARGET, type Destination } from './destination.ts';
import { LocalDestination } from './local.ts';
import { archiveFileName, toBackupRecord, type Manifest } from './manifest.ts';
import { exists } from './fs-util.ts';
import { sweepStaleTemps } from '../../lib/durable-file.ts';
import { DefaultRcloneSettings, RcloneDestination, redactSecrets, type RcloneSettings } from './rclone.ts';
import { planRetention } from './retention.ts';
import { ResticDestination } from './restic.ts';
import type { ResticSettings } from './restic-runner.ts';
import { RESTIC_PREFIX, targetOf, type ResticDestinationConfig } from '../config.ts';
import { recoverSwaps, type RecoveredRestore } from './swap.ts';
import { planSaves } from './walk.ts';
import { restoreBackup, type RestoreRequest, type RestoreResult } from './engine-restore.ts';
import { defaultBackupId, reportUncommitted, runBackup } from './engine-backup.ts';
import { lockBackup } from './engine-lock.ts';

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
  restic?: Partial<ResticSettings>;
  clock?: Clock;
  logger?: Logger;
  publishRecord?: PublishRecord;
  publishState?: PublishState;
  /** Backup ids; default `YYYYMMDD-HHMMSS-xxxx` (UTC, 4 random hex). */
  newId?: (serverId: string, nowMs: number) => string;
  toolVersion?: string;
  statfs?: StatFs;
  /** Destinations by target; default: "local" and folder paths → LocalDestination, rclone remotes → RcloneDestination. */
  destinationFor?: (target: string, server: ResolvedServer) => Destination;
  zstdPoolSize?: number;
}

export interface CreateRequest {
  trigger: BackupRecord['trigger'];
  note?: string;
  signal?: AbortSignal;
}

/**
 * A record as it leaves the agent: a destination written as an rclone connection
 * string (`:s3,secret_access_key=...:bucket`) must not carry its secret to the hub or Discord.
 */
export function publicRecord(r: BackupRecord): BackupRecord {
  return { ...r, destinations: r.destinations.map((d) => ({ ...d, target: redactSecrets(d.target), ...(d.error !== undefined ? { error: redactSecrets(d.error) } : {}) })) };
}

export { defaultBackupId };

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
    // Temp files of catalog writes that a kill interrupted (recoverSwaps and local.sweep do the same for their folders).
    const swept = await sweepStaleTemps(this.catalog.dir);
    if (swept.length) this.logger.warn({ dir: this.catalog.dir, files: swept }, 'removed temp files left by an interrupted write');
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
      else await this.dropLost(server, local);
      const reported = await reportUncommitted(this, server.id);
      if (reported.length) this.logger.warn({ serverId: server.id, backups: reported }, 'reported backups a restart interrupted before the hub was told');
    }
    return recovered;
  }

  /**
   * Catalog entries kept only on the local disk whose archive is gone (removed
   * by hand, or a failed backup whose catalog entry could not be dropped on a
   * full disk) are not backups: they leave the catalog, and the hub is told.
   */
  private async dropLost(server: ResolvedServer, local: LocalDestination): Promise<void> {
    for (const e of [...(await this.catalog.entries(server.id)).values()]) {
      if (!e.record.destinations.every((d) => d.target === LOCAL_TARGET)) continue;
      if (await exists(path.join(local.dir, archiveFileName(e.record.id, e.record.format)))) continue;
      this.logger.warn({ serverId: server.id, backupId: e.record.id }, 'a backup in the catalog has no archive on the local disk any more; dropped from the catalog');
      await this.catalog.delete(server.id, e.record.id);
      await this.record('backup.removed', { serverId: server.id, backupId: e.record.id, target: null });
    }
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
      return await this.createClaimed(server, control, admin, req);
    } finally {
      release();
    }
  }

  /**
   * Holds the server's job slot for a longer job (a game update) that runs a
   * backup and maybe a restore inside it: meanwhile other backups and restores
   * of the server are refused with BUSY. Returns the release.
   */
  claim(serverId: string, kind: string): () => void {
    return this.acquire(serverId, kind);
  }

  /** A backup inside a job that holds the slot (claim). */
  async createClaimed(server: ResolvedServer, control: ServerControl | null, admin: AdminChannel | null, req: CreateRequest): Promise<BackupRecord> {
    return publicRecord(await runBackup(this, server, control, admin, req, {}));
  }

  /** A restore inside a job that holds the slot (claim). */
  async restoreClaimed(server: ResolvedServer, control: ServerControl | null, req: RestoreRequest): Promise<RestoreResult> {
    return restoreBackup(this, server, control, req, () => this.preRestoreBackup(server));
  }

  /** Newest first, as the hub and the API show them (destination targets without credentials). */
  async list(serverId: string): Promise<BackupRecord[]> {
    return (await this.catalog.records(serverId)).map(publicRecord);
  }

  async lock(server: ResolvedServer, backupId: string, locked: boolean): Promise<BackupRecord> {
    return publicRecord(await lockBackup(this, server, backupId, locked));
  }

  async restore(server: ResolvedServer, control: ServerControl | null, admin: AdminChannel | null, req: RestoreRequest): Promise<RestoreResult> {
    const release = this.acquire(server.id, 'restore');
    try {
      return await this.restoreClaimed(server, control, req);
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
    const targets = [...new Set([...(includeLocal ? [LOCAL_TARGET] : []), ...server.config.backup.destinations.map(targetOf).filter((t) => t !== LOCAL_TARGET)])];
    return targets.map((t) => this.destination(t, server));
  }

  destination(target: string, server: ResolvedServer): Destination {
    if (this.opts.destinationFor) return this.opts.destinationFor(target, server);
    if (target === LOCAL_TARGET) return new LocalDestination({ dataDir: this.opts.dataDir, serverId: server.id, logger: this.logger }) satisfies Destination;
    if (target.startsWith(RESTIC_PREFIX)) {
      const cfg = server.config.backup.destinations.find((d): d is ResticDestinationConfig => typeof d !== 'string' && targetOf(d) === target);
      if (!cfg) throw new ReconSyncError('UNKNOWN_BACKUP', `${redactSecrets(target)} is no longer a destination of ${server.id} in agent.yaml; add it back to reach its backups`);
      return new ResticDestination({
        target, repository: cfg.restic, password: cfg.password, serverId: server.id, tmpDir: this.tmpDir(), logger: this.logger,
        // The cache under dataDir: the service's home may be read-only (systemd ProtectHome), and restic without a cache re-reads the repository's index every run.
        restic: { cacheDir: path.join(this.opts.dataDir, 'restic-cache'), ...this.opts.restic, rcloneConfig: this.opts.rclone?.config }, pool: () => this.zstdPool(),
      }) satisfies Destination;
    }
    // A folder (config paths are absolute by now) is copied with file operations: no rclone needed, as `config check` says.
    if (path.isAbsolute(target) || path.win32.isAbsolute(target)) return new LocalDestination({ folder: target, serverId: server.id, logger: this.logger }) satisfies Destination;
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

  /**
   * Queues a record for the hub. `required`: the caller's outcome depends on
   * the hub hearing of it (a backup's commit point), so a failure to store it
   * is thrown instead of logged.
   */
  async record<T extends RecordTopic>(topic: T, data: EventData<T>, opts: { required?: boolean } = {}): Promise<void> {
    try {
      const isBackup = topic === 'backup.completed' || topic === 'backup.updated';
      await this.opts.publishRecord?.(topic, isBackup ? (publicRecord(data as BackupRecord) as EventData<T>) : data);
    } catch (err) {
      if (opts.required) throw err;
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
    return (await runBackup(this, server, null, null, { trigger: 'pre-restore' }, { preRestore: true })).id;
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
      let removed = 0;
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
        removed++;
      }
      // restic: forgotten snapshots free their space only when the repository is pruned.
      if (removed > 0 && dest.compact) {
        await dest.compact().catch((err: unknown) => this.logger.warn({ err, serverId: server.id, target: redactSecrets(target) }, 'reclaiming the space of removed backups failed; it is tried again after the next retention run'));
      }
    }
  }
}
