import type { Logger } from '../../lib/logger.ts';
import type { BackupProgress, Clock, ServerStatus } from '../../protocol/index.ts';
import type { SessionRegistry } from '../link/registry.ts';
import type { Session } from '../link/session.ts';
import type { Store } from '../store/index.ts';
import { ServerDirectory, type DirectoryEntry } from './directory.ts';
import { seedDirectory } from './ownership.ts';
import type { AuditEntry, ServerView } from './types.ts';

export interface HubStateOptions {
  store: Store;
  logger: Logger;
  clock: Clock;
  /** Read only here: who is connected decides a view's state. */
  registry: SessionRegistry;
}

const EMPTY_PLAYERS: ServerStatus['players'] = Object.freeze({ online: 0, max: 0, names: Object.freeze([]) as unknown as string[] });

/**
 * What the command service and the agent-report sink share: the server
 * directory, the live sessions (read only), the facts both sides touch while a
 * job runs (pending status snapshots, backup progress) and how a server is
 * shown. Built before both, so each is built complete; neither reaches into
 * the other.
 */
export class HubState {
  readonly store: Store;
  readonly logger: Logger;
  readonly directory = new ServerDirectory();
  /** Status snapshots not yet written: the sink fills it and writes it behind, batched. */
  readonly pendingSnapshots = new Map<string, { agentId: string; status: ServerStatus }>();
  /** The newest progress of each running backup/restore job: the sink keeps it, the commands read it. */
  readonly progress = new Map<string, BackupProgress & { agentId: string }>();
  readonly #clock: Clock;
  readonly #registry: SessionRegistry;

  constructor(options: HubStateOptions) {
    this.store = options.store;
    this.logger = options.logger;
    this.#clock = options.clock;
    this.#registry = options.registry;
    seedDirectory(this.store, this.directory);
  }

  /** The agent's session when it is open (a replaced or closing one does not count). */
  liveSession(agentId: string): Session | undefined {
    const s = this.#registry.get(agentId);
    return s?.open ? s : undefined;
  }

  /** Every agent's registered session. */
  sessions(): Iterable<Session> {
    return this.#registry.agents();
  }

  /** A server left the directory (no longer listed, or forgotten): what was pending for it goes too. */
  drop(serverId: string): void {
    this.pendingSnapshots.delete(serverId);
    this.progress.delete(serverId);
  }

  now(): number {
    return this.#clock.now();
  }

  iso(): string {
    return new Date(this.#clock.now()).toISOString();
  }

  audit(entry: Omit<AuditEntry, 'at'>): void {
    // Through transaction() so a failing audit write counts as a store fault.
    this.store.transaction(() => this.store.audit.append({ ...entry, at: this.iso() }), 'audit');
  }

  view(e: DirectoryEntry): ServerView {
    const s = e.status;
    const online = this.liveSession(e.agentId) !== undefined;
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
    const u = this.store.updates.get(serverId);
    return u ? { installedBuild: u.installedBuild, latestBuild: u.latestBuild, available: u.available } : null;
  }

  #catalogLastBackup(serverId: string): ServerView['lastBackup'] {
    const [newest] = this.store.backups.list(serverId, 1);
    if (!newest) return null;
    return { id: newest.id, createdAt: newest.createdAt, size: newest.size, verified: newest.destinations.some((d) => d.verified) };
  }
}
