import { EventEmitter } from 'node:events';
import { echo } from '../../lib/echo.ts';
import { redactSecrets } from '../../lib/rclone-redact.ts';
import { safeEmit } from '../../lib/safe-emit.ts';
import { ReconSyncError, type BackupProgress, type BackupRecord, type UpdateInfo } from '../../protocol/index.ts';
import type { RpcRouter } from '../rpc/router.ts';
import type { HubState } from './hub-state.ts';
import type { Ownership } from './ownership.ts';
import type { Actor, AgentView, AuditEntry, ForgottenAgent, ForgottenServer, HubService, HubServiceEvents, ServerAction, ServerView } from './types.ts';
import { errorMessage } from '../../lib/error-message.ts';

export interface HubServiceOptions {
  state: HubState;
  /** Calls to the agents (built on the same session registry the link server fills). */
  router: RpcRouter;
  ownership: Ownership;
}

/**
 * The hub's one implementation of every command and query (HTTP API and
 * Discord are adapters over it), and the one emitter their consumers
 * subscribe to: what agents report comes in through ReportSink, which emits
 * here.
 */
export class HubServiceImpl extends EventEmitter<HubServiceEvents> implements HubService {
  readonly router: RpcRouter;
  readonly #state: HubState;
  readonly #ownership: Ownership;
  /** Restarts in their warning countdown, by server: `cancelRestart` aborts them. */
  readonly #countdowns = new Map<string, AbortController>();

  constructor(options: HubServiceOptions) {
    super();
    this.router = options.router;
    this.#state = options.state;
    this.#ownership = options.ownership;
  }

  // ---- queries -------------------------------------------------------------

  listAgents(): AgentView[] {
    const { store, directory } = this.#state;
    const rows = new Map(store.agents.list().map((a) => [a.id, a]));
    for (const s of this.#state.sessions()) if (!rows.has(s.agentId)) rows.set(s.agentId, { id: s.agentId, version: s.agentVersion, lastSeen: null, servers: s.servers, ackedSeq: 0, createdAt: '' });
    return [...rows.values()]
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((a) => {
        const session = this.#state.liveSession(a.id);
        return {
          id: a.id,
          connected: session !== undefined,
          version: session?.agentVersion ?? a.version,
          lastSeen: session ? new Date(this.#state.now() - session.silentMs()).toISOString() : a.lastSeen,
          servers: directory.serversOf(a.id),
        };
      });
  }

  listServers(): ServerView[] {
    return this.#state.directory.entries().map((e) => this.#state.view(e));
  }

  getServer(serverId: string): ServerView {
    const entry = this.#state.directory.get(serverId);
    if (!entry) throw unknownServer(serverId);
    return this.#state.view(entry);
  }

  listBackups(serverId: string): BackupRecord[] {
    const list = this.#state.store.backups.list(serverId);
    if (list.length === 0 && !this.#state.directory.get(serverId)) throw unknownServer(serverId);
    return list;
  }

  backupProgress(serverId: string): (BackupProgress & { agentId: string }) | null {
    return this.#state.progress.get(serverId) ?? null;
  }

  recentAudit(limit = 100, serverId?: string): AuditEntry[] {
    return this.#state.store.audit.recent(limit, serverId).map(({ id: _id, ...e }) => e);
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
      safeEmit(this, this.#state.logger, 'backupRecorded', { ...record, agentId });
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
    const agentId = this.#state.directory.agentOf(serverId);
    if (agentId && this.#state.liveSession(agentId)) return this.router.call({ serverId }, 'update.status', { serverId });
    const stored = this.#state.store.updates.get(serverId);
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
    this.#state.audit(entry);
  }

  forgetServer(serverId: string, actor: Actor): ForgottenServer {
    return this.#ownership.forgetServer(serverId, actor);
  }

  forgetAgent(agentId: string, actor: Actor): ForgottenAgent {
    return this.#ownership.forgetAgent(agentId, actor);
  }

  // ---- internals -----------------------------------------------------------

  /**
   * Writes what an agent answered into the catalog ahead of its record (backup.completed / backup.updated,
   * which carries the same data through the outbox). The agent has acted: a store failure here must not
   * turn its success into an error for the caller, who would then back up or lock again.
   */
  #catalogShortcut(agentId: string, record: BackupRecord): void {
    try {
      const { store } = this.#state;
      store.transaction(() => store.backups.upsert(agentId, record), 'catalog');
    } catch (err) {
      this.#state.logger.warn({ err, agentId, serverId: record.serverId, backupId: record.id }, 'could not write the backup to the catalog now; the agent\'s record brings it');
    }
  }

  async #audited<T>(actor: Actor, action: string, serverId: string, detail: string | null, fn: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await fn();
    } catch (err) {
      const e = err instanceof ReconSyncError ? err : new ReconSyncError('INTERNAL', errorMessage(err), { cause: err });
      try {
        this.audit({ actor, action, serverId, outcome: 'error', detail: `${e.code}: ${e.message}${detail ? ` (${detail})` : ''}` });
      } catch (auditErr) {
        this.#state.logger.error({ err: auditErr }, 'could not write the audit log');
      }
      throw e;
    }
    try {
      this.audit({ actor, action, serverId, outcome: 'ok', detail });
    } catch (auditErr) {
      // The action happened: a failing audit write must not report it as failed (the caller would retry a
      // stop or restore that already ran). It shows as a store fault (/healthz, metrics) and in this log line.
      this.#state.logger.error({ err: auditErr, action, serverId }, 'action succeeded but could not be written to the audit log');
    }
    return result;
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
