import { EventEmitter } from 'node:events';
import { ReconSyncError, type BackupProgress, type BackupRecord, type Alert } from '../../protocol/index.ts';
import type { Actor, AgentView, AuditEntry, HubService, HubServiceEvents, ServerAction, ServerView } from '../../hub/service/types.ts';

type ActionResult = Awaited<ReturnType<HubService['serverAction']>>;
type RestoreResult = Awaited<ReturnType<HubService['restoreBackup']>>;

/**
 * A HubService held in memory for adapter tests (Discord, HTTP): it keeps
 * agents, servers and backups, records every call, writes the audit log the
 * way the real service does (mutating calls audit themselves) and lets a test
 * emit events or take over an operation.
 */
export class MemoryHubService implements HubService {
  private readonly events = new EventEmitter();
  readonly agents = new Map<string, AgentView>();
  readonly servers = new Map<string, ServerView>();
  readonly backups = new Map<string, BackupRecord[]>();
  readonly auditLog: AuditEntry[] = [];
  readonly calls: { method: string; serverId: string | null; actor: Actor | null; args: unknown[] }[] = [];
  /** Replace to control a server action (default: succeeds at once). */
  onServerAction: (serverId: string, action: ServerAction) => Promise<ActionResult> = async (serverId, action) => {
    const state = action === 'stop' ? 'stopped' : 'running';
    this.updateServer(serverId, { state });
    return { state, graceful: true };
  };
  /** Replace to control a backup (default: progress phases, then a verified record). */
  onCreateBackup: (serverId: string, progress: (p: Omit<BackupProgress, 'serverId'>) => void, note?: string) => Promise<BackupRecord> = async (serverId, progress, note) => {
    for (const phase of ['saving', 'archiving', 'uploading', 'verifying'] as const) progress({ jobId: 'job-1', phase, bytesDone: 0, bytesTotal: null });
    return this.addBackup(serverId, { note });
  };
  onRestore: (serverId: string, backupId: string, progress: (p: Omit<BackupProgress, 'serverId'>) => void) => Promise<RestoreResult> = async (_s, backupId) => ({ backupId, preRestoreBackupId: null, from: 'local' });
  onRcon: (serverId: string, command: string) => Promise<{ output: string }> = async (_s, command) => ({ output: `ran ${command}` });

  constructor() {
    this.events.setMaxListeners(100);
  }

  // ---- test helpers ----

  addAgent(id: string, connected = true): AgentView {
    const a: AgentView = { id, connected, version: '0.1.0', lastSeen: new Date().toISOString(), servers: [] };
    this.agents.set(id, a);
    return a;
  }

  addServer(id: string, patch: Partial<ServerView> = {}): ServerView {
    const agentId = patch.agentId ?? 'agent-1';
    if (!this.agents.has(agentId)) this.addAgent(agentId);
    this.agents.get(agentId)!.servers.push(id);
    const s: ServerView = {
      id, agentId, agentOnline: this.agents.get(agentId)!.connected, game: 'valheim', name: `Server ${id}`, managed: true,
      state: 'running', players: { online: 0, max: 10, names: [] }, map: 'world', version: '1.0',
      resources: { cpuPercent: 1, rssBytes: 1, diskFreeBytes: 1, uptimeSec: 60 }, lastBackup: null, updatedAt: new Date().toISOString(),
      lastKnownState: patch.state ?? 'running', ...patch,
    };
    this.servers.set(id, s);
    this.backups.set(id, this.backups.get(id) ?? []);
    return s;
  }

  /** Changes a server and emits 'server' like a status event would. */
  updateServer(id: string, patch: Partial<ServerView>): ServerView {
    const prev = this.getServer(id);
    const s = { ...prev, ...patch, updatedAt: new Date().toISOString() };
    if (patch.state && prev.agentOnline) s.lastKnownState = patch.state;
    this.servers.set(id, s);
    this.emit('server', s);
    return s;
  }

  setAgentConnected(agentId: string, connected: boolean): void {
    const a = this.agents.get(agentId);
    if (!a) throw new Error(`no agent ${agentId}`);
    a.connected = connected;
    a.lastSeen = new Date().toISOString();
    // Like the real service: 'unknown' while offline, the last reported state kept aside.
    for (const sid of a.servers) {
      const s = this.getServer(sid);
      this.servers.set(sid, { ...s, agentOnline: connected, state: connected ? s.lastKnownState : 'unknown' });
    }
    this.emit(connected ? 'agentOnline' : 'agentOffline', agentId);
  }

  addBackup(serverId: string, patch: Partial<BackupRecord> = {}): BackupRecord {
    const list = this.backups.get(serverId) ?? [];
    const b: BackupRecord = {
      id: `b-${serverId}-${list.length + 1}`, serverId, game: 'valheim', createdAt: new Date().toISOString(), size: 1_048_576,
      sha256: 'a'.repeat(64), files: 3, trigger: 'manual', format: 'tar.zst', locked: false,
      destinations: [{ target: 'local', verified: true }], ...patch,
    };
    list.unshift(b);
    this.backups.set(serverId, list);
    const s = this.servers.get(serverId);
    if (s) this.servers.set(serverId, { ...s, lastBackup: { id: b.id, createdAt: b.createdAt, size: b.size, verified: true } });
    this.emit('backupRecorded', { ...b, agentId: s?.agentId ?? 'agent-1' });
    return b;
  }

  alert(serverId: string, kind: Alert['kind'], message = '', at = new Date().toISOString()): void {
    this.emit('alert', { serverId, kind, message, at, agentId: this.servers.get(serverId)?.agentId ?? 'agent-1' });
  }

  emit<E extends keyof HubServiceEvents>(event: E, ...args: HubServiceEvents[E]): void {
    this.events.emit(event, ...args);
  }

  listenerCount(event: keyof HubServiceEvents): number {
    return this.events.listenerCount(event);
  }

  callsOf(method: string): { method: string; serverId: string | null; actor: Actor | null; args: unknown[] }[] {
    return this.calls.filter((c) => c.method === method);
  }

  // ---- HubService ----

  listAgents(): AgentView[] {
    return [...this.agents.values()].map((a) => ({ ...a, servers: [...a.servers] }));
  }

  listServers(): ServerView[] {
    return [...this.servers.values()];
  }

  getServer(serverId: string): ServerView {
    const s = this.servers.get(serverId);
    if (!s) throw new ReconSyncError('UNKNOWN_SERVER', `No server ${serverId}; list servers with /status or GET /api/v1/servers.`);
    return s;
  }

  listBackups(serverId: string): BackupRecord[] {
    this.getServer(serverId);
    return [...(this.backups.get(serverId) ?? [])];
  }

  private async audited<T>(method: string, serverId: string, actor: Actor, args: unknown[], fn: () => Promise<T>): Promise<T> {
    this.calls.push({ method, serverId, actor, args });
    try {
      this.getServer(serverId);
      const r = await fn();
      this.audit({ actor, action: method, serverId, outcome: 'ok', detail: null });
      return r;
    } catch (err) {
      this.audit({ actor, action: method, serverId, outcome: 'error', detail: err instanceof ReconSyncError ? err.code : String(err) });
      throw err;
    }
  }

  private progressFor(serverId: string): (p: Omit<BackupProgress, 'serverId'>) => void {
    return (p) => this.emit('backupProgress', { ...p, serverId, agentId: this.servers.get(serverId)?.agentId ?? 'agent-1' });
  }

  serverAction(serverId: string, action: ServerAction, actor: Actor): Promise<ActionResult> {
    return this.audited(`server.${action}`, serverId, actor, [action], () => this.onServerAction(serverId, action));
  }

  cancelRestart(serverId: string, actor: Actor): Promise<{ cancelled: boolean }> {
    return this.audited('server.restart.cancel', serverId, actor, [], async () => ({ cancelled: false }));
  }

  createBackup(serverId: string, actor: Actor, opts: { note?: string } = {}): Promise<BackupRecord> {
    return this.audited('backup.create', serverId, actor, [opts.note], () => this.onCreateBackup(serverId, this.progressFor(serverId), opts.note));
  }

  restoreBackup(serverId: string, backupId: string, actor: Actor, opts: { paths?: string[] } = {}): Promise<RestoreResult> {
    return this.audited('backup.restore', serverId, actor, opts.paths ? [backupId, opts.paths] : [backupId], () => this.onRestore(serverId, backupId, this.progressFor(serverId)));
  }

  lockBackup(serverId: string, backupId: string, locked: boolean, actor: Actor): Promise<BackupRecord> {
    return this.audited('backup.lock', serverId, actor, [backupId, locked], async () => {
      const b = this.listBackups(serverId).find((x) => x.id === backupId);
      if (!b) throw new ReconSyncError('UNKNOWN_BACKUP');
      b.locked = locked;
      return b;
    });
  }

  rcon(serverId: string, command: string, actor: Actor): Promise<{ output: string }> {
    return this.audited('rcon', serverId, actor, [command], () => this.onRcon(serverId, command));
  }

  /** What serverLog answers (tests change it); a game's output, already redacted by the agent. */
  logLines: string[] = [];

  async serverLog(serverId: string, lines: number): Promise<{ lines: string[]; truncated: boolean }> {
    this.getServer(serverId);
    return { lines: this.logLines.slice(-lines), truncated: this.logLines.length > lines };
  }

  audit(entry: Omit<AuditEntry, 'at'>): void {
    this.auditLog.push({ ...entry, at: new Date().toISOString() });
  }

  on<E extends keyof HubServiceEvents>(event: E, listener: (...args: HubServiceEvents[E]) => void): this {
    this.events.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  off<E extends keyof HubServiceEvents>(event: E, listener: (...args: HubServiceEvents[E]) => void): this {
    this.events.off(event, listener as (...args: unknown[]) => void);
    return this;
  }
}
