import type { BackupRecord } from '../../protocol/index.ts';
import type { AdminChannel, ResolvedServer, ServerControl } from '../types.ts';
import { ReconSyncError } from '../../protocol/index.ts';
import { ZstdPool } from './compress.ts';
import { createBackupContext, DefaultEngineOptions, publicRecord, type BackupContext, type BackupEngineOptions } from './context.ts';
import { lockBackup } from './lock.ts';
import { OverdueWatch } from './overdue.ts';
import { runBackup, type CreateRequest } from './pipeline.ts';
import { rebuildCatalog, recoverAtStart } from './recovery.ts';
import { checkRepositories, type RepoCheckOutcome } from './repo-check.ts';
import { restoreBackup, type RestoreRequest, type RestoreResult } from './restore-pipeline.ts';
import type { RecoveredRestore } from './swap.ts';

// The engine's public surface keeps its old home for its callers (agent.ts, handlers, updater, tests).
export { DefaultEngineOptions, defaultBackupId, publicRecord, type BackupEngineOptions, type PublishRecord, type PublishState } from './context.ts';
export type { CreateRequest } from './pipeline.ts';
export type { RestoreRequest, RestoreResult } from './restore-pipeline.ts';

/**
 * One per agent: the facade that handlers, the scheduler and the updater call.
 * It owns what must be one per agent: the per-server job slots (one backup,
 * restore, update or repository check at a time per server) and the lifetime
 * of the zstd workers (ended when no job has run for `poolIdleMs`). The work
 * itself is done by plain functions over a BackupContext: pipeline.ts (backup),
 * upload.ts, restore-pipeline.ts, lock.ts, apply-retention.ts, recovery.ts.
 */
export class BackupEngine {
  readonly #ctx: BackupContext;
  readonly #overdue: OverdueWatch;
  /** serverId → the kind of job holding its slot. */
  readonly #jobs = new Map<string, string>();
  readonly #poolSize: number | undefined;
  readonly #poolIdleMs: number;
  #pool: ZstdPool | null = null;
  #poolIdleTimer: NodeJS.Timeout | undefined;

  constructor(options: BackupEngineOptions) {
    this.#poolSize = options.zstdPoolSize;
    this.#poolIdleMs = options.poolIdleMs ?? DefaultEngineOptions.poolIdleMs;
    this.#ctx = createBackupContext(options, () => this.#zstdPool());
    this.#overdue = new OverdueWatch(this.#ctx);
  }

  /**
   * At agent start: delete half-written archives, finish or roll back restores a
   * crash interrupted (reported as restore.completed records), and rebuild a
   * lost catalog from the destinations' manifests.
   */
  init(servers: ResolvedServer[]): Promise<RecoveredRestore[]> {
    return recoverAtStart(this.#ctx, servers);
  }

  /** Re-reads every destination's manifests into the server's catalog. */
  rebuildCatalog(server: ResolvedServer): Promise<BackupRecord[]> {
    return rebuildCatalog(this.#ctx, server);
  }

  isBusy(serverId: string): string | null {
    return this.#jobs.get(serverId) ?? null;
  }

  async create(server: ResolvedServer, control: ServerControl | null, admin: AdminChannel | null, req: CreateRequest): Promise<BackupRecord> {
    const release = this.#acquire(server.id, 'backup');
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
    return this.#acquire(serverId, kind);
  }

  /** A backup inside a job that holds the slot (claim). */
  async createClaimed(server: ResolvedServer, control: ServerControl | null, admin: AdminChannel | null, req: CreateRequest): Promise<BackupRecord> {
    return publicRecord(await runBackup(this.#ctx, server, control, admin, req, {}));
  }

  /** A restore inside a job that holds the slot (claim). */
  restoreClaimed(server: ResolvedServer, control: ServerControl | null, req: RestoreRequest): Promise<RestoreResult> {
    return restoreBackup(this.#ctx, server, control, req);
  }

  /** Newest first, as the hub and the API show them (destination targets without credentials). */
  async list(serverId: string): Promise<BackupRecord[]> {
    return (await this.#ctx.catalog.records(serverId)).map(publicRecord);
  }

  async lock(server: ResolvedServer, backupId: string, locked: boolean): Promise<BackupRecord> {
    return publicRecord(await lockBackup(this.#ctx, server, backupId, locked));
  }

  async restore(server: ResolvedServer, control: ServerControl | null, _admin: AdminChannel | null, req: RestoreRequest): Promise<RestoreResult> {
    const release = this.#acquire(server.id, 'restore');
    try {
      return await this.restoreClaimed(server, control, req);
    } finally {
      release();
    }
  }

  /** Alerts `backup_overdue` when the newest verified backup is older than `backup.maxAgeHours`; true when overdue. */
  checkOverdue(server: ResolvedServer): Promise<boolean> {
    return this.#overdue.check(server);
  }

  /** restic integrity checks (repo-check.ts), each inside its server's job slot; a busy server is skipped. */
  checkRepositories(servers: ResolvedServer[], subset: string, signal?: AbortSignal): Promise<RepoCheckOutcome[]> {
    return checkRepositories(this.#ctx, (serverId, kind) => this.#acquire(serverId, kind), servers, subset, signal);
  }

  /** zstd worker threads alive now (0 while idle). */
  get zstdWorkers(): number {
    return this.#pool?.size ?? 0;
  }

  async close(): Promise<void> {
    clearTimeout(this.#poolIdleTimer);
    await this.#pool?.close();
    this.#pool = null;
  }

  #zstdPool(): ZstdPool {
    this.#pool ??= new ZstdPool(this.#poolSize !== undefined ? { size: this.#poolSize } : {});
    return this.#pool;
  }

  #acquire(serverId: string, kind: string): () => void {
    const running = this.#jobs.get(serverId);
    if (running) throw new ReconSyncError('BUSY', `a ${running} is already running for ${serverId}; wait for it to finish, then try again`);
    this.#jobs.set(serverId, kind);
    clearTimeout(this.#poolIdleTimer);
    return () => {
      this.#jobs.delete(serverId);
      if (this.#jobs.size === 0 && this.#pool) {
        this.#poolIdleTimer = setTimeout(() => this.#releaseIdlePool(), this.#poolIdleMs);
        this.#poolIdleTimer.unref();
      }
    };
  }

  #releaseIdlePool(): void {
    if (this.#jobs.size > 0 || !this.#pool) return;
    const pool = this.#pool;
    this.#pool = null;
    void pool.close().catch((err: unknown) => this.#ctx.logger.warn({ err }, 'closing idle zstd workers failed'));
  }
}
