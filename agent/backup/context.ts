import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { silentLogger, type Logger } from '../../lib/logger.ts';
import { VERSION } from '../../lib/version.ts';
import {
  ReconSyncError, systemClock, type AlertKind, type BackupProgress, type BackupRecord, type Clock, type EventData, type RecordTopic,
} from '../../protocol/index.ts';
import type { ResolvedServer } from '../types.ts';
import type { StatFs } from './archive.ts';
import { Catalog, type CatalogEntry } from './catalog.ts';
import type { ZstdPool } from './compress.ts';
import type { Destination } from './destination.ts';
import { makeDestination, serverTargets } from './destination-factory.ts';
import { redactSecrets, type RcloneSettings } from './rclone.ts';
import type { ResticSettings } from './restic-runner.ts';

/**
 * What the backup pipeline, uploads, restore, lock, retention and start-up
 * recovery need, handed to them as one object (style.md: no service locators).
 * The engine builds it once and keeps for itself only what is its own job:
 * the per-server job slots and the zstd workers' lifetime. Nothing in here
 * imports the engine, so engine → pipeline → context has no cycle.
 */

export type PublishRecord = <T extends RecordTopic>(topic: T, data: EventData<T>) => void | Promise<void>;
export type PublishState = (topic: 'backup.progress', data: BackupProgress) => void;
export type Progress = (phase: BackupProgress['phase'], bytesDone: number, bytesTotal: number | null, target?: string) => void;

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

export interface BackupContext {
  readonly dataDir: string;
  /** Partial downloads and scratch files; emptied at every start. */
  readonly tmpDir: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly catalog: Catalog;
  readonly uploadAttempts: number;
  readonly uploadBackoffMs: number;
  /** Written into each manifest. */
  readonly toolVersion: string;
  /** Free-space probe for the archive writer; undefined: the real statfs. */
  readonly statfs: StatFs | undefined;
  newId(serverId: string, nowMs: number): string;
  destination(target: string, server: ResolvedServer): Destination;
  /** The server's configured destinations, each once. */
  destinations(server: ResolvedServer, includeLocal: boolean): Destination[];
  /** A rate-limited `backup.progress` publisher for one job. */
  progress(serverId: string, jobId: string): Progress;
  /**
   * Queues a record for the hub. `required`: the caller's outcome depends on
   * the hub hearing of it (a backup's commit point), so a failure to store it
   * is thrown instead of logged.
   */
  record<T extends RecordTopic>(topic: T, data: EventData<T>, opts?: { required?: boolean }): Promise<void>;
  alert(serverId: string, kind: AlertKind, message: string): Promise<void>;
  nowIso(): string;
  /** The catalog entry, or UNKNOWN_BACKUP. */
  entry(serverId: string, backupId: string): Promise<CatalogEntry>;
  /** The engine's zstd workers, started on first use. */
  zstdPool(): ZstdPool;
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

/** Merges the defaults once; `zstdPool` is the engine's, which owns the workers' lifetime. */
export function createBackupContext(options: BackupEngineOptions, zstdPool: () => ZstdPool): BackupContext {
  const o = { ...DefaultEngineOptions, ...options };
  const clock = o.clock ?? systemClock;
  const logger = o.logger ?? silentLogger;
  const catalog = new Catalog(o.dataDir);
  const tmpDir = path.join(o.dataDir, 'tmp');
  const nowIso = () => new Date(clock.now()).toISOString();
  const destination = (target: string, server: ResolvedServer): Destination => (o.destinationFor
    ? o.destinationFor(target, server)
    : makeDestination({ dataDir: o.dataDir, tmpDir, logger, rclone: o.rclone, restic: o.restic, pool: zstdPool }, target, server));

  const record = async <T extends RecordTopic>(topic: T, data: EventData<T>, opts: { required?: boolean } = {}): Promise<void> => {
    try {
      const isBackup = topic === 'backup.completed' || topic === 'backup.updated';
      await o.publishRecord?.(topic, isBackup ? (publicRecord(data as BackupRecord) as EventData<T>) : data);
    } catch (err) {
      if (opts.required) throw err;
      logger.error({ err, topic }, 'could not queue a record for the hub');
    }
  };

  const progress = (serverId: string, jobId: string): Progress => {
    let lastAt = -Infinity;
    let lastPhase = '';
    return (phase, bytesDone, bytesTotal, target) => {
      const now = clock.now();
      const key = `${phase}:${target ?? ''}`;
      if (key === lastPhase && now - lastAt < o.progressIntervalMs && bytesDone !== bytesTotal) return;
      lastAt = now;
      lastPhase = key;
      try {
        o.publishState?.('backup.progress', { serverId, jobId, phase, bytesDone, bytesTotal, ...(target ? { target: redactSecrets(target) } : {}) });
      } catch (err) {
        logger.warn({ err }, 'publishing backup progress failed');
      }
    };
  };

  return Object.freeze({
    dataDir: o.dataDir,
    tmpDir,
    clock,
    logger,
    catalog,
    uploadAttempts: o.uploadAttempts,
    uploadBackoffMs: o.uploadBackoffMs,
    toolVersion: o.toolVersion ?? VERSION,
    statfs: o.statfs,
    newId: o.newId ?? defaultBackupId,
    destination,
    destinations: (server: ResolvedServer, includeLocal: boolean) => serverTargets(server, includeLocal).map((t) => destination(t, server)),
    progress,
    record,
    async alert(serverId: string, kind: AlertKind, message: string): Promise<void> {
      logger.warn({ serverId, kind }, message);
      await record('alert', { serverId, kind, message: message.slice(0, 2000), at: nowIso() });
    },
    nowIso,
    async entry(serverId: string, backupId: string): Promise<CatalogEntry> {
      const entry = (await catalog.entries(serverId)).get(backupId);
      if (!entry) throw new ReconSyncError('UNKNOWN_BACKUP', `no backup "${backupId}" for ${serverId}; list them with /backup list`);
      return entry;
    },
    zstdPool,
  });
}
