import type { ServerStatus, ServerSummary } from '../../protocol/index.ts';

export interface DirectoryEntry {
  serverId: string;
  agentId: string;
  summary: ServerSummary | null;
  status: ServerStatus | null;
}

export type ClaimResult = 'ok' | 'conflict';

function newer(a: string, b: string): boolean {
  const ta = Date.parse(a);
  const tb = Date.parse(b);
  if (Number.isNaN(ta) || Number.isNaN(tb)) return true;
  return ta >= tb;
}

/**
 * Which agent owns which server, and the newest summary and status of each.
 * Pure in-memory bookkeeping; persistence and events are the service's job.
 */
export class ServerDirectory {
  readonly #byServer = new Map<string, DirectoryEntry>();
  readonly #byAgent = new Map<string, Set<string>>();

  /** Entries from the store at start-up (snapshots and the agents' last hello). */
  seed(agentId: string, summary: ServerSummary | null, status: ServerStatus | null): void {
    const serverId = summary?.id ?? status?.id;
    if (!serverId) return;
    const existing = this.#byServer.get(serverId);
    if (existing && existing.agentId !== agentId) return;
    const entry = existing ?? { serverId, agentId, summary: null, status: null };
    if (summary) entry.summary = summary;
    if (status) entry.status = status;
    this.#set(entry);
  }

  /**
   * An agent's hello lists its servers. Returns the server ids it no longer
   * has and the ids it could not claim (owned by another agent that is online).
   */
  applyHello(agentId: string, servers: ServerSummary[], isOnline: (agentId: string) => boolean): { removed: string[]; conflicts: string[] } {
    const conflicts: string[] = [];
    const now = new Set<string>();
    for (const summary of servers) {
      const entry = this.#byServer.get(summary.id);
      if (entry && entry.agentId !== agentId && isOnline(entry.agentId)) {
        conflicts.push(summary.id);
        continue;
      }
      now.add(summary.id);
      if (entry && entry.agentId === agentId) {
        entry.summary = summary;
      } else {
        if (entry) this.#unlink(entry);
        this.#set({ serverId: summary.id, agentId, summary, status: null });
      }
    }
    const removed: string[] = [];
    for (const serverId of [...(this.#byAgent.get(agentId) ?? [])]) {
      if (!now.has(serverId)) {
        const entry = this.#byServer.get(serverId);
        if (entry) {
          this.#unlink(entry);
          this.#byServer.delete(serverId);
        }
        removed.push(serverId);
      }
    }
    return { removed, conflicts };
  }

  /** Newest-wins: returns false for a stale status or one for a server another online agent owns. */
  applyStatus(agentId: string, status: ServerStatus, isOnline: (agentId: string) => boolean): boolean {
    const entry = this.#byServer.get(status.id);
    if (entry && entry.agentId !== agentId) {
      if (isOnline(entry.agentId)) return false;
      this.#unlink(entry);
      this.#set({ serverId: status.id, agentId, summary: null, status });
      return true;
    }
    if (entry) {
      if (entry.status && !newer(status.updatedAt, entry.status.updatedAt)) return false;
      entry.status = status;
      return true;
    }
    this.#set({ serverId: status.id, agentId, summary: null, status });
    return true;
  }

  get(serverId: string): DirectoryEntry | undefined {
    return this.#byServer.get(serverId);
  }

  agentOf(serverId: string): string | null {
    return this.#byServer.get(serverId)?.agentId ?? null;
  }

  serversOf(agentId: string): string[] {
    return [...(this.#byAgent.get(agentId) ?? [])].sort();
  }

  entries(): DirectoryEntry[] {
    return [...this.#byServer.values()].sort((a, b) => a.serverId.localeCompare(b.serverId));
  }

  #set(entry: DirectoryEntry): void {
    this.#byServer.set(entry.serverId, entry);
    let set = this.#byAgent.get(entry.agentId);
    if (!set) {
      set = new Set();
      this.#byAgent.set(entry.agentId, set);
    }
    set.add(entry.serverId);
  }

  #unlink(entry: DirectoryEntry): void {
    const set = this.#byAgent.get(entry.agentId);
    set?.delete(entry.serverId);
    if (set?.size === 0) this.#byAgent.delete(entry.agentId);
  }
}
