import type { Database, Statement } from 'better-sqlite3';
import { UpdateInfoSchema, type UpdateInfo } from '../../protocol/index.ts';

/** Each server's newest update facts (installed/latest build, last outcome), as its agent last reported them. */
export class UpdatesTable {
  readonly #upsert: Statement<[string, string, string, string]>;
  readonly #get: Statement<[string], { info: string }>;
  readonly #remove: Statement<[string, string]>;

  constructor(db: Database) {
    this.#upsert = db.prepare(`INSERT INTO server_updates (server_id, agent_id, info, updated_at) VALUES (?, ?, ?, ?)
      ON CONFLICT(server_id) DO UPDATE SET agent_id = excluded.agent_id, info = excluded.info, updated_at = excluded.updated_at`);
    this.#get = db.prepare('SELECT info FROM server_updates WHERE server_id = ?');
    this.#remove = db.prepare('DELETE FROM server_updates WHERE server_id = ? AND agent_id = ?');
  }

  upsert(agentId: string, serverId: string, info: UpdateInfo, at: string): void {
    this.#upsert.run(serverId, agentId, JSON.stringify(info), at);
  }

  get(serverId: string): UpdateInfo | null {
    const row = this.#get.get(serverId);
    if (!row) return null;
    const parsed = UpdateInfoSchema.safeParse(JSON.parse(row.info));
    return parsed.success ? parsed.data : null;
  }

  /** Conditional on the agent, like the other per-server rows: another agent's newer claim is kept. */
  remove(serverId: string, agentId: string): void {
    this.#remove.run(serverId, agentId);
  }
}
