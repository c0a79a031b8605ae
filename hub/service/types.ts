import type { Alert, BackupProgress, BackupRecord, EventData, ServerStatus, UpdateInfo } from '../../protocol/index.ts';
import type { Actor, AuditEntry } from '../store/audit.ts';

// The audit log's row shapes belong to its table; the service's callers name them through here.
export type { Actor, AuditEntry };

export type ServerAction = 'start' | 'stop' | 'restart';

export interface AgentView {
  id: string;
  connected: boolean;
  version: string | null;
  lastSeen: string | null;
  servers: string[];
}

/** GET /api/v1/servers/{id} shape (design.md §4a) plus a few extras. */
export interface ServerView {
  id: string;
  agentId: string;
  agentOnline: boolean;
  game: string;
  name: string;
  managed: boolean;
  /** 'unknown' while the agent is offline; the last reported state is in lastKnownState. */
  state: ServerStatus['state'];
  lastKnownState: ServerStatus['state'];
  players: ServerStatus['players'];
  map: string | null;
  version: string | null;
  resources: ServerStatus['resources'] | null;
  lastBackup: ServerStatus['lastBackup'];
  updatedAt: string | null;
  /** When the next scheduled restart takes the game down (agent.yaml restart.schedule), or null. */
  nextRestart?: string | null;
  /** How players join (agent.yaml connect), or null. */
  connect?: string | null;
  /** Whether the game's status names its players or only counts them (its profile's query.players), or null when the agent did not say. */
  playerDetail?: 'names' | 'counts' | null;
  /** The game's builds as last reported (Steam games with `update:`), or null. */
  update?: { installedBuild: string | null; latestBuild: string | null; available: boolean } | null;
}

/**
 * An alert as the hub passes it on: the agents' kinds, plus the ones only the
 * hub raises (an agent cannot send those: they are not in the protocol).
 */
export type HubAlert = Omit<Alert, 'kind'> & { kind: Alert['kind'] | 'server_conflict'; agentId: string };

export interface HubServiceEvents {
  /** A server's view changed (status event, agent online/offline). */
  server: [view: ServerView];
  agentOnline: [agentId: string];
  agentOffline: [agentId: string];
  alert: [alert: HubAlert];
  backupProgress: [progress: BackupProgress & { agentId: string }];
  backupRecorded: [record: BackupRecord & { agentId: string }];
  /** A backup left a destination (remaining = null: it is gone from the catalog). */
  backupRemoved: [removed: { agentId: string; serverId: string; backupId: string; remaining: BackupRecord | null }];
  restoreCompleted: [outcome: EventData<'restore.completed'> & { agentId: string }];
  /** A server's update facts changed (check, new build, pipeline outcome). */
  updateState: [record: EventData<'update.state'> & { agentId: string }];
  /** A running update pipeline moved to another step. */
  updateProgress: [progress: EventData<'update.progress'> & { agentId: string }];
}

export interface ForgottenServer {
  serverId: string;
  /** The agent that owned the server until now. */
  formerOwner: string;
  /** Catalog rows dropped (the backups themselves stay where the agent put them). */
  backups: number;
}

export interface ForgottenAgent {
  agentId: string;
  servers: string[];
  tokensRevoked: number;
  backups: number;
}

/**
 * The one place where commands are implemented; the HTTP API and Discord are
 * thin adapters over it. Every mutating call is written to the audit log.
 * Errors are ReconSyncError with a stable code.
 */
export interface HubService {
  listAgents(): AgentView[];
  listServers(): ServerView[];
  getServer(serverId: string): ServerView; // throws UNKNOWN_SERVER
  listBackups(serverId: string): BackupRecord[]; // from the hub catalog, newest first
  serverAction(serverId: string, action: ServerAction, actor: Actor, opts?: { warnAt?: number[]; signal?: AbortSignal }): Promise<{ state: ServerStatus['state']; graceful?: boolean; message?: string }>;
  /** Aborts a restart still in its warning countdown (nothing was stopped yet). */
  cancelRestart(serverId: string, actor: Actor): Promise<{ cancelled: boolean }>;
  createBackup(serverId: string, actor: Actor, opts?: { note?: string; signal?: AbortSignal }): Promise<BackupRecord>;
  restoreBackup(serverId: string, backupId: string, actor: Actor, opts?: { from?: string; paths?: string[]; signal?: AbortSignal }): Promise<{ backupId: string; preRestoreBackupId: string | null; from: string }>;
  lockBackup(serverId: string, backupId: string, locked: boolean, actor: Actor): Promise<BackupRecord>;
  rcon(serverId: string, command: string, actor: Actor): Promise<{ output: string }>;
  audit(entry: Omit<AuditEntry, 'at'>): void;
  // Added after the first cut; optional so existing implementations (test doubles) still compile.
  /** The last `lines` lines of the game's output, secrets redacted (GET /servers/{id}/log, /console). */
  serverLog?(serverId: string, lines: number): Promise<{ lines: string[]; truncated: boolean }>;
  /** Newest first. */
  recentAudit?(limit?: number, serverId?: string): AuditEntry[];
  /** The newest progress of a running backup/restore job on the server, or null. */
  backupProgress?(serverId: string): (BackupProgress & { agentId: string }) | null;
  /** Frees a server id (its agent no longer owns it); throws UNKNOWN_SERVER. Audited. */
  forgetServer?(serverId: string, actor: Actor): ForgottenServer;
  /** Removes an agent, its tokens (a live session is closed) and its servers; throws UNKNOWN_AGENT. Audited. */
  forgetAgent?(agentId: string, actor: Actor): ForgottenAgent;
  /** The server's update facts (design.md §10): from its agent when online, else as last reported. */
  getUpdate?(serverId: string): Promise<UpdateInfo>;
  /** Asks Steam now (through the agent). */
  checkUpdate?(serverId: string, actor: Actor): Promise<UpdateInfo>;
  /** Starts the update pipeline on the agent; the outcome arrives as an `update.state` record. Audited. */
  applyUpdate?(serverId: string, actor: Actor, opts?: { warnMinutes?: number[] }): Promise<{ started: boolean; from: string | null; to: string | null }>;
  on<E extends keyof HubServiceEvents>(event: E, listener: (...args: HubServiceEvents[E]) => void): unknown;
  off<E extends keyof HubServiceEvents>(event: E, listener: (...args: HubServiceEvents[E]) => void): unknown;
}
