import type { ServerStatus, ServerSummary } from '../../protocol/index.ts';

export interface DirectoryEntry {
  serverId: string;
  agentId: string;
  summary: ServerSummary | null;
  status: ServerStatus | null;
}

function newer(a: string, b: string): boolean {
  const ta = Date.parse(a);
  const tb = Date.parse(b);
  if (Number.isNaN(ta) || Number.isNaN(tb)) return true;
  return ta >= tb;
}

/**
 * The servers the hub shows, each under its owner, with the newest summary
 * and status. Pure in-memory bookkeeping: who owns a server is decided by
 * the store (server_owners), persistence and events are the service's job.
 */
export class ServerDirectory {
  readonly #byServer = new Map<string, DirectoryEntry>();
  readonly #byAgent = new Map<string, Set<string>>();

  /** Entries from the store at start-up (the owners' last hello and snapshots). */
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
   * An agent's hello, reduced to the servers it owns. Returns the server ids
   * it no longer lists (they leave the directory; their owner stays in the store).
   */
  applyHello(agentId: string, owned: ServerSummary[]): { removed: string[] } {
    const now = new Set<string>();
    for (const summary of owned) {
      now.add(summary.id);
      const entry = this.#byServer.get(summary.id);
      if (entry && entry.agentId === agentId) {
        entry.summary = summary;
      } else {
        // An entry under another agent is stale (the store says this agent owns the id now).
        if (entry) this.#unlink(entry);
        this.#set({ serverId: summary.id, agentId, summary, status: null });
      }
    }
    const removed: string[] = [];
    for (const serverId of [...(this.#byAgent.get(agentId) ?? [])]) {
      if (!now.has(serverId)) {
        this.remove(serverId);
        removed.push(serverId);
      }
    }
    return { removed };
  }

  /** Newest-wins, and only from the agent the server is listed under: false for a stale status or anyone else's. */
  applyStatus(agentId: string, status: ServerStatus): boolean {
    const entry = this.#byServer.get(status.id);
    if (!entry || entry.agentId !== agentId) return false;
    if (entry.status && !newer(status.updatedAt, entry.status.updatedAt)) return false;
    entry.status = status;
    return true;
  }

  /** Drops a server (forgotten by an operator, or no longer listed by its owner). */
  remove(serverId: string): DirectoryEntry | undefined {
    const entry = this.#byServer.get(serverId);
    if (!entry) return undefined;
    this.#unlink(entry);
    this.#byServer.delete(serverId);
    return entry;
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
