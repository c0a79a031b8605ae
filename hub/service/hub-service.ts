import { EventEmitter } from 'node:events';
import { echo } from '../../lib/echo.ts';
import { redactSecrets } from '../../lib/rclone-redact.ts';
import type { Logger } from '../../lib/logger.ts';
import {
  ReconSyncError,
  type BackupProgress,
  type BackupRecord,
  type Clock,
  type EventData,
  type Hello,
  type ServerStatus,
  type UpdateInfo,
} from '../../protocol/index.ts';
import type { SessionRegistry } from '../link/registry.ts';
import type { LinkSink } from '../link/link-server.ts';
import type { RecordEvt, Session, StateEvt } from '../link/session.ts';
import type { HubMetrics } from '../metrics.ts';
import { RpcRouter } from '../rpc/router.ts';
import type { Store } from '../store/index.ts';
import { ServerDirectory, type DirectoryEntry } from './directory.ts';
import type { ForgottenAgent, ForgottenServer } from './forget.ts';
import { ingestRecord, type RecordEffect } from './ingest.ts';
import { Ownership, seedDirectory } from './ownership.ts';
import type { Actor, AgentView, AuditEntry, HubAlert, HubService, HubServiceEvents, ServerAction, ServerView } from './types.ts';

export interface HubServiceOptions {
  store: Store;
  logger: Logger;
  clock: Clock;
  metrics: HubMetrics;
  /** Status snapshots are written behind, batched, at most this often. */
  snapshotFlushMs?: number;
  /** How often forgets made by the CLI (another process) are picked up. */
  ownershipPollMs?: number;
}

const DefaultHubServiceOptions = { snapshotFlushMs: 1000, ownershipPollMs: 1000 } satisfies Partial<HubServiceOptions>;

const EMPTY_PLAYERS: ServerStatus['players'] = Object.freeze({ online: 0, max: 0, names: Object.freeze([]) as unknown as string[] });

/**
 * The hub's one implementation of every command (HTTP API and Discord are
 * adapters over it) and the sink for what agents report.
 */
export class HubServiceImpl extends EventEmitter<HubServiceEvents> implements HubService, LinkSink {
  readonly directory = new ServerDirectory();
  readonly #opts: Required<HubServiceOptions>;
  readonly #store: Store;
  readonly #log: Logger;
  #registry: SessionRegistry | undefined;
  #router: RpcRouter | undefined;
  readonly #dirty = new Map<string, { agentId: string; status: ServerStatus }>();
  readonly #progress = new Map<string, BackupProgress & { agentId: string }>();
  /** Restarts in their warning countdown, by server: `cancelRestart` aborts them. */
  readonly #countdowns = new Map<string, AbortController>();
  /** The step each running update is in, so each step is audited once. */
  readonly #updateSteps = new Map<string, string>();
  #flushTimer: NodeJS.Timeout | undefined;
  readonly #ownership: Ownership;

  constructor(options: HubServiceOptions) {
    super();
    this.#opts = { ...DefaultHubServiceOptions, ...options };
    this.#store = options.store;
    this.#log = options.logger;
    seedDirectory(this.#store, this.directory);
    this.#ownership = new Ownership({
      store: this.#store,
      directory: this.directory,
      logger: this.#log,
      now: () => this.#iso(),
      alert: (a) => this.#safeEmit('alert', a),
      session: (id) => this.#liveSession(id),
      dropped: (serverId) => {
        this.#dirty.delete(serverId);
        this.#progress.delete(serverId);
      },
      pollMs: this.#opts.ownershipPollMs,
    });
  }

  /** Connects the service to the live sessions; done once, by createHub. */
  bind(registry: SessionRegistry): void {
    this.#registry = registry;
    this.#router = new RpcRouter({ registry, resolveServer: (id) => this.directory.agentOf(id), metrics: this.#opts.metrics });
    registry.on('online', (s) => {
      this.#safeEmit('agentOnline', s.agentId);
      this.#emitAgentServers(s.agentId);
    });
    registry.on('offline', (s) => {
      try {
        this.#store.agents.touch(s.agentId, this.#iso());
      } catch (err) {
        this.#log.warn({ err, agentId: s.agentId }, 'could not record last_seen');
      }
      for (const [serverId, p] of this.#progress) if (p.agentId === s.agentId) this.#progress.delete(serverId);
      this.#safeEmit('agentOffline', s.agentId);
      this.#emitAgentServers(s.agentId);
    });
    this.#flushTimer = setInterval(() => this.flushSnapshots(), this.#opts.snapshotFlushMs);
    this.#flushTimer.unref();
    this.#ownership.start();
  }

  get router(): RpcRouter {
    if (!this.#router) throw new ReconSyncError('INTERNAL', 'hub service used before it was bound to the link');
    return this.#router;
  }

  close(): void {
    clearInterval(this.#flushTimer);
    this.#ownership.stop();
    this.flushSnapshots();
  }

  // ---- queries -------------------------------------------------------------

  listAgents(): AgentView[] {
    const rows = new Map(this.#store.agents.list().map((a) => [a.id, a]));
    for (const s of this.#registry?.agents() ?? []) if (!rows.has(s.agentId)) rows.set(s.agentId, { id: s.agentId, version: s.agentVersion, lastSeen: null, servers: s.servers, ackedSeq: 0, createdAt: '' });
    return [...rows.values()]
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((a) => {
        const session = this.#liveSession(a.id);
        return {
          id: a.id,
          connected: session !== undefined,
          version: session?.agentVersion ?? a.version,
          lastSeen: session ? new Date(this.#opts.clock.now() - session.silentMs()).toISOString() : a.lastSeen,
          servers: this.directory.serversOf(a.id),
        };
      });
  }

  listServers(): ServerView[] {
    return this.directory.entries().map((e) => this.#view(e));
  }

  getServer(serverId: string): ServerView {
    const entry = this.directory.get(serverId);
    if (!entry) throw unknownServer(serverId);
    return this.#view(entry);
  }

  listBackups(serverId: string): BackupRecord[] {
    const list = this.#store.backups.list(serverId);
    if (list.length === 0 && !this.directory.get(serverId)) throw unknownServer(serverId);
    return list;
  }

  backupProgress(serverId: string): (BackupProgress & { agentId: string }) | null {
    return this.#progress.get(serverId) ?? null;
  }

  recentAudit(limit = 100, serverId?: string): AuditEntry[] {
    return this.#store.audit.recent(limit, serverId).map(({ id: _id, ...e }) => e);
  }

  // ---- commands ------------------------------------------------------------

  serverAction(serverId: string, action: ServerAction, actor: Actor, opts: { warnAt?: number[]; signal?: AbortSignal } = {}) {
    const callOpts = opts.signal ? { signal: opts.signal } : {};
    return this.#audited(actor, `server.${action}`, serverId, opts.warnAt?.length ? `warnAt=${opts.warnAt.join(',')}` : null, async () => {
      switch (action) {
        case 'start':
          return this.router.call({ serverId }, 'server.start', { serverId }, callOpts);
        case 'stop':
          return this.router.call({ serverId }, 'server.stop', { serverId }, callOpts);
        case 'restart': {
          const ctrl = new AbortController();
          const signal = opts.signal ? AbortSignal.any([opts.signal, ctrl.signal]) : ctrl.signal;
          this.#countdowns.set(serverId, ctrl);
          try {
            return await this.router.call({ serverId }, 'server.restart', { serverId, warnAt: opts.warnAt ?? [] }, { signal });
          } finally {
            if (this.#countdowns.get(serverId) === ctrl) this.#countdowns.delete(serverId);
          }
        }
        default:
          throw new ReconSyncError('INVALID_PARAMS', `unknown action "${echo(action)}"; use start, stop or restart`);
      }
    });
  }

  /** Cancels a restart that is still warning players; the game keeps running. */
  cancelRestart(serverId: string, actor: Actor): Promise<{ cancelled: boolean }> {
    return this.#audited(actor, 'server.restart.cancel', serverId, null, async () => {
      this.getServer(serverId);
      const ctrl = this.#countdowns.get(serverId);
      // No countdown started from here: it may be the agent's own scheduled restart (restart.schedule).
      if (!ctrl) return this.router.call({ serverId }, 'server.restart.cancel', { serverId });
      ctrl.abort(new ReconSyncError('CANCELLED', 'restart cancelled by an operator'));
      return { cancelled: true };
    });
  }

  createBackup(serverId: string, actor: Actor, opts: { note?: string; signal?: AbortSignal } = {}): Promise<BackupRecord> {
    return this.#audited(actor, 'backup.create', serverId, opts.note ?? null, async () => {
      const agentId = this.router.agentFor({ serverId });
      const record = answerFor(serverId, await this.router.call({ serverId }, 'backup.create', opts.note === undefined ? { serverId } : { serverId, note: opts.note }, opts.signal ? { signal: opts.signal } : {}));
      // The agent also sends backup.completed through its outbox; the upsert is idempotent.
      this.#catalogShortcut(agentId, record);
      return record;
    });
  }

  restoreBackup(serverId: string, backupId: string, actor: Actor, opts: { from?: string; paths?: string[]; signal?: AbortSignal } = {}) {
    const params = { serverId, backupId, ...(opts.from !== undefined ? { from: opts.from } : {}), ...(opts.paths !== undefined ? { paths: opts.paths } : {}) };
    return this.#audited(actor, 'backup.restore', serverId, `backup ${backupId}${opts.from ? ` from ${redactSecrets(opts.from)}` : ''}`, () =>
      this.router.call({ serverId }, 'backup.restore', params, opts.signal ? { signal: opts.signal } : {}),
    );
  }

  lockBackup(serverId: string, backupId: string, locked: boolean, actor: Actor): Promise<BackupRecord> {
    return this.#audited(actor, locked ? 'backup.lock' : 'backup.unlock', serverId, `backup ${backupId}`, async () => {
      const agentId = this.router.agentFor({ serverId });
      const record = answerFor(serverId, await this.router.call({ serverId }, 'backup.lock', { serverId, backupId, locked }));
      this.#catalogShortcut(agentId, record);
      this.#safeEmit('backupRecorded', { ...record, agentId });
      return record;
    });
  }

  rcon(serverId: string, command: string, actor: Actor): Promise<{ output: string }> {
    // Only the verb is audited, as the agent logs it and the Discord audit channel shows it: arguments can hold secrets (a new password).
    const verb = (command.trim().split(/\s+/)[0] ?? '').slice(0, 100);
    return this.#audited(actor, 'server.rcon', serverId, verb, () => this.router.call({ serverId }, 'server.rcon', { serverId, command }));
  }

  // ---- game updates (issue 11) --------------------------------------------

  async getUpdate(serverId: string): Promise<UpdateInfo> {
    this.getServer(serverId);
    const agentId = this.directory.agentOf(serverId);
    if (agentId && this.#liveSession(agentId)) return this.router.call({ serverId }, 'update.status', { serverId });
    const stored = this.#store.updates.get(serverId);
    if (stored) return stored;
    throw new ReconSyncError('AGENT_OFFLINE', `the agent of ${echo(serverId)} is offline and has not reported update facts yet`);
  }

  checkUpdate(serverId: string, actor: Actor): Promise<UpdateInfo> {
    return this.#audited(actor, 'server.check-update', serverId, null, () => this.router.call({ serverId }, 'update.check', { serverId }));
  }

  applyUpdate(serverId: string, actor: Actor, opts: { warnMinutes?: number[] } = {}): Promise<{ started: boolean; from: string | null; to: string | null }> {
    const who = `${actor.kind}:${actor.name ?? actor.id}`.slice(0, 200);
    return this.#audited(actor, 'server.update', serverId, opts.warnMinutes ? `warnMinutes=${opts.warnMinutes.join(',')}` : null, () =>
      this.router.call({ serverId }, 'update.apply', { serverId, actor: who, ...(opts.warnMinutes ? { warnMinutes: opts.warnMinutes } : {}) }),
    );
  }

  /** The game's latest output (console tail), redacted by the agent. */
  async serverLog(serverId: string, lines: number): Promise<{ lines: string[]; truncated: boolean }> {
    this.getServer(serverId);
    return this.router.call({ serverId }, 'server.log', { serverId, lines });
  }

  audit(entry: Omit<AuditEntry, 'at'>): void {
    // Through transaction() so a failing audit write counts as a store fault.
    this.#store.transaction(() => this.#store.audit.append({ ...entry, at: this.#iso() }), 'audit');
  }

  forgetServer(serverId: string, actor: Actor): ForgottenServer {
    return this.#ownership.forgetServer(serverId, actor);
  }

  forgetAgent(agentId: string, actor: Actor): ForgottenAgent {
    return this.#ownership.forgetAgent(agentId, actor);
  }

  // ---- link sink -----------------------------------------------------------

  hello(session: Session, hello: Hello): number {
    const agentId = session.agentId;
    const { owned, conflicts } = this.#ownership.claim(session, hello);
    const { removed } = this.directory.applyHello(agentId, owned);
    for (const serverId of removed) {
      this.#dirty.delete(serverId);
      this.#store.snapshots.remove(agentId, serverId);
      this.#store.updates.remove(serverId, agentId);
    }
    if (conflicts.length) this.#ownership.reportConflicts(session, conflicts);
    // A replacing connection: the agent stays online, but its server list may have changed.
    if (this.#liveSession(agentId)) this.#emitAgentServers(agentId);
    return this.#store.agents.ackedSeq(agentId);
  }

  state(session: Session, evt: StateEvt): void {
    const agentId = session.agentId;
    if (evt.topic === 'status') {
      if (!this.directory.applyStatus(agentId, evt.data)) return;
      this.#dirty.set(evt.data.id, { agentId, status: evt.data });
      const entry = this.directory.get(evt.data.id);
      if (entry) this.#safeEmit('server', this.#view(entry));
    } else if (evt.topic === 'update.progress') {
      if (this.directory.agentOf(evt.data.serverId) !== agentId) return;
      this.#auditUpdateStep(agentId, evt.data);
      this.#safeEmit('updateProgress', { ...evt.data, agentId });
    } else if (evt.topic === 'backup.progress') {
      const p = { ...evt.data, agentId };
      if (this.directory.agentOf(p.serverId) !== agentId) return;
      if (p.phase === 'done') this.#progress.delete(p.serverId);
      else this.#progress.set(p.serverId, p);
      this.#safeEmit('backupProgress', p);
    }
  }

  record(session: Session, evt: RecordEvt): number {
    const agentId = session.agentId;
    const result = ingestRecord(this.#store, agentId, evt, this.#iso(), (serverId) => this.#ownership.owns(agentId, serverId));
    this.#opts.metrics.recordEvents.labels(evt.topic, !result.accepted ? 'duplicate' : result.effect ? 'accepted' : 'foreign').inc();
    if (result.accepted && !result.effect) session.logger.warn({ topic: evt.topic, seq: evt.seq, serverId: evt.data.serverId }, 'record about a server this agent does not own; acked and dropped');
    if (result.effect) this.#emitEffect(session.agentId, result.effect);
    return result.ackedSeq;
  }

  /** Writes pending status snapshots in one transaction. */
  flushSnapshots(): void {
    if (this.#dirty.size === 0 || !this.#store.open) return;
    const batch = [...this.#dirty.values()];
    this.#dirty.clear();
    try {
      this.#store.transaction(() => {
        for (const { agentId, status } of batch) this.#store.snapshots.upsert(agentId, status);
      });
    } catch (err) {
      this.#log.warn({ err, count: batch.length }, 'could not persist status snapshots; will retry');
      for (const b of batch) if (!this.#dirty.has(b.status.id)) this.#dirty.set(b.status.id, b);
    }
  }

  // ---- internals -----------------------------------------------------------

  #emitEffect(agentId: string, effect: RecordEffect): void {
    switch (effect.kind) {
      case 'alert':
        if (effect.alert.kind === 'backup_failed') this.#opts.metrics.backupsTotal.labels('failed').inc();
        this.#safeEmit('alert', { ...effect.alert, agentId });
        return;
      case 'backupRecorded':
        if (effect.completed) this.#opts.metrics.backupsTotal.labels('ok').inc();
        this.#safeEmit('backupRecorded', { ...effect.record, agentId });
        return;
      case 'backupRemoved':
        this.#safeEmit('backupRemoved', { agentId, serverId: effect.serverId, backupId: effect.backupId, remaining: effect.remaining });
        return;
      case 'restoreCompleted':
        this.#safeEmit('restoreCompleted', { ...effect.outcome, agentId });
        return;
      case 'updateState': {
        if (effect.record.event === 'outcome') this.#updateSteps.delete(effect.record.serverId);
        this.#safeEmit('updateState', { ...effect.record, agentId });
        // The board shows the build and "update available": refresh the server's view.
        const entry = this.directory.get(effect.record.serverId);
        if (entry) this.#safeEmit('server', this.#view(entry));
        return;
      }
    }
  }

  /**
   * Writes what an agent answered into the catalog ahead of its record (backup.completed / backup.updated,
   * which carries the same data through the outbox). The agent has acted: a store failure here must not
   * turn its success into an error for the caller, who would then back up or lock again.
   */
  /** Every step an update enters is audited once (its progress within a step, like download percent, is not). */
  #auditUpdateStep(agentId: string, p: EventData<'update.progress'>): void {
    if (this.#updateSteps.get(p.serverId) === p.step) return;
    if (p.step === 'done') this.#updateSteps.delete(p.serverId);
    else this.#updateSteps.set(p.serverId, p.step);
    try {
      this.audit({ actor: { kind: 'system', id: agentId }, action: 'update.step', serverId: p.serverId, outcome: 'ok', detail: `${p.step}: ${p.message}`.slice(0, 500) });
    } catch (err) {
      this.#log.warn({ err, serverId: p.serverId }, 'could not audit an update step');
    }
  }

  #catalogShortcut(agentId: string, record: BackupRecord): void {
    try {
      this.#store.transaction(() => this.#store.backups.upsert(agentId, record), 'catalog');
    } catch (err) {
      this.#log.warn({ err, agentId, serverId: record.serverId, backupId: record.id }, 'could not write the backup to the catalog now; the agent\'s record brings it');
    }
  }

  async #audited<T>(actor: Actor, action: string, serverId: string, detail: string | null, fn: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await fn();
    } catch (err) {
      const e = err instanceof ReconSyncError ? err : new ReconSyncError('INTERNAL', err instanceof Error ? err.message : String(err), { cause: err });
      try {
        this.audit({ actor, action, serverId, outcome: 'error', detail: `${e.code}: ${e.message}${detail ? ` (${detail})` : ''}` });
      } catch (auditErr) {
        this.#log.error({ err: auditErr }, 'could not write the audit log');
      }
      throw e;
    }
    try {
      this.audit({ actor, action, serverId, outcome: 'ok', detail });
    } catch (auditErr) {
      // The action happened: a failing audit write must not report it as failed (the caller would retry a
      // stop or restore that already ran). It shows as a store fault (/healthz, metrics) and in this log line.
      this.#log.error({ err: auditErr, action, serverId }, 'action succeeded but could not be written to the audit log');
    }
    return result;
  }

  #view(e: DirectoryEntry): ServerView {
    const s = e.status;
    const online = this.#liveSession(e.agentId) !== undefined;
    const lastKnown = s?.state ?? 'unknown';
    return {
      id: e.serverId,
      agentId: e.agentId,
      agentOnline: online,
      game: s?.game ?? e.summary?.game ?? 'unknown',
      name: s?.name ?? e.summary?.name ?? e.serverId,
      managed: s?.managed ?? e.summary?.managed ?? false,
      state: online ? lastKnown : 'unknown',
      lastKnownState: lastKnown,
      players: s?.players ?? EMPTY_PLAYERS,
      map: s?.map ?? null,
      version: s?.version ?? null,
      resources: s?.resources ?? null,
      lastBackup: s?.lastBackup ?? this.#catalogLastBackup(e.serverId),
      updatedAt: s?.updatedAt ?? null,
      nextRestart: s?.nextRestart ?? null,
      connect: s?.connect ?? null,
      playerDetail: s?.playerDetail ?? null,
      update: this.#updateOf(e.serverId),
    };
  }

  #updateOf(serverId: string): ServerView['update'] {
    const u = this.#store.updates.get(serverId);
    return u ? { installedBuild: u.installedBuild, latestBuild: u.latestBuild, available: u.available } : null;
  }

  #catalogLastBackup(serverId: string): ServerView['lastBackup'] {
    const [newest] = this.#store.backups.list(serverId, 1);
    if (!newest) return null;
    return { id: newest.id, createdAt: newest.createdAt, size: newest.size, verified: newest.destinations.some((d) => d.verified) };
  }

  #emitAgentServers(agentId: string): void {
    for (const serverId of this.directory.serversOf(agentId)) {
      const entry = this.directory.get(serverId);
      if (entry) this.#safeEmit('server', this.#view(entry));
    }
  }

  #liveSession(agentId: string): Session | undefined {
    const s = this.#registry?.get(agentId);
    return s?.open ? s : undefined;
  }

  #safeEmit<E extends keyof HubServiceEvents>(event: E, ...args: HubServiceEvents[E]): void {
    try {
      (this.emit as (e: E, ...a: HubServiceEvents[E]) => boolean)(event, ...args);
    } catch (err) {
      // A listener's bug (Discord, metrics) must not undo what the agent reported.
      this.#log.error({ err, event }, 'hub service listener failed');
    }
  }

  #iso(): string {
    return new Date(this.#opts.clock.now()).toISOString();
  }
}

/** An answer is stored under the server it names: it must be the server that was asked about, or an agent could write another agent's catalog. */
function answerFor(serverId: string, record: BackupRecord): BackupRecord {
  if (record.serverId !== serverId) throw new ReconSyncError('INTERNAL', `the agent answered for server "${echo(record.serverId)}" when asked about "${echo(serverId)}"; nothing was stored`);
  return record;
}

function unknownServer(serverId: string): ReconSyncError {
  return new ReconSyncError('UNKNOWN_SERVER', `no server "${echo(serverId)}"; list servers with /status or GET /api/v1/servers`);
}
