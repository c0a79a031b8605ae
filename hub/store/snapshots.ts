import type { Database, Statement } from 'better-sqlite3';
import { ServerStatusSchema, type ServerStatus } from '../../protocol/index.ts';

export interface SnapshotRow {
  serverId: string;
  agentId: string;
  status: ServerStatus;
}

/** The last status each server reported, so a restarted hub shows something before agents reconnect. */
export class SnapshotsTable {
  readonly #upsert: Statement<[string, string, string, string]>;
  readonly #all: Statement<[], { server_id: string; agent_id: string; status: string }>;
  readonly #remove: Statement<[string, string]>;
  readonly #removeAgent: Statement<[string]>;

  constructor(db: Database) {
    this.#upsert = db.prepare(`INSERT INTO server_snapshots (server_id, agent_id, status, updated_at) VALUES (?, ?, ?, ?)
      ON CONFLICT(server_id) DO UPDATE SET agent_id = excluded.agent_id, status = excluded.status, updated_at = excluded.updated_at`);
    this.#all = db.prepare('SELECT server_id, agent_id, status FROM server_snapshots ORDER BY server_id');
    this.#remove = db.prepare('DELETE FROM server_snapshots WHERE server_id = ? AND agent_id = ?');
    this.#removeAgent = db.prepare('DELETE FROM server_snapshots WHERE agent_id = ?');
  }

  upsert(agentId: string, status: ServerStatus): void {
    this.#upsert.run(status.id, agentId, JSON.stringify(status), status.updatedAt);
  }

  list(): SnapshotRow[] {
    const out: SnapshotRow[] = [];
    for (const r of this.#all.all()) {
      const status = ServerStatusSchema.safeParse(JSON.parse(r.status));
      if (status.success) out.push({ serverId: r.server_id, agentId: r.agent_id, status: status.data });
    }
    return out;
  }

  remove(agentId: string, serverId: string): void {
    this.#remove.run(serverId, agentId);
  }

  removeAgent(agentId: string): void {
    this.#removeAgent.run(agentId);
  }
}
