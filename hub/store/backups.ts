import type { Database, Statement } from 'better-sqlite3';
import { BackupRecordSchema, type BackupRecord } from '../../protocol/index.ts';

export interface CatalogEntry {
  agentId: string;
  record: BackupRecord;
}

type Raw = { agent_id: string; record: string };

function parse(r: Raw): CatalogEntry | null {
  const rec = BackupRecordSchema.safeParse(JSON.parse(r.record));
  return rec.success ? { agentId: r.agent_id, record: rec.data } : null;
}

/** Rows list() returns at most, and keepNewest's usual bound. */
export const CATALOG_SHOWN = 10_000;

/** The hub's backup catalog, fed by backup.completed / updated / removed records. */
export class BackupsTable {
  readonly #upsert: Statement<[string, string, string, string, string]>;
  readonly #get: Statement<[string, string], Raw>;
  readonly #list: Statement<[string, number], Raw>;
  readonly #delete: Statement<[string, string]>;
  readonly #deleteOwned: Statement<[string, string]>;
  readonly #keepNewest: Statement<[string, string, number]>;

  constructor(db: Database) {
    this.#upsert = db.prepare(`INSERT INTO backups (server_id, backup_id, agent_id, created_at, record) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT(server_id, backup_id) DO UPDATE SET agent_id = excluded.agent_id, created_at = excluded.created_at, record = excluded.record`);
    this.#get = db.prepare('SELECT agent_id, record FROM backups WHERE server_id = ? AND backup_id = ?');
    this.#list = db.prepare('SELECT agent_id, record FROM backups WHERE server_id = ? ORDER BY created_at DESC, backup_id DESC LIMIT ?');
    this.#delete = db.prepare('DELETE FROM backups WHERE server_id = ? AND backup_id = ?');
    this.#deleteOwned = db.prepare('DELETE FROM backups WHERE server_id = ? AND agent_id = ?');
    this.#keepNewest = db.prepare(`DELETE FROM backups WHERE server_id = ? AND (created_at, backup_id) <
      (SELECT created_at, backup_id FROM backups WHERE server_id = ? ORDER BY created_at DESC, backup_id DESC LIMIT 1 OFFSET ?)`);
  }

  upsert(agentId: string, record: BackupRecord): void {
    this.#upsert.run(record.serverId, record.id, agentId, record.createdAt, JSON.stringify(record));
  }

  get(serverId: string, backupId: string): CatalogEntry | null {
    const r = this.#get.get(serverId, backupId);
    return r ? parse(r) : null;
  }

  /**
   * Keeps a server's newest `n` rows (the order list() shows them in) and drops older ones: list() never
   * shows more, and the server's own agent must not grow the catalog without bound.
   */
  keepNewest(serverId: string, n: number): number {
    return this.#keepNewest.run(serverId, serverId, n - 1).changes;
  }

  /** Newest first. */
  list(serverId: string, limit = CATALOG_SHOWN): BackupRecord[] {
    const out: BackupRecord[] = [];
    for (const r of this.#list.all(serverId, limit)) {
      const e = parse(r);
      if (e) out.push(e.record);
    }
    return out;
  }

  /**
   * A destination no longer holds the backup (target), or the backup is gone
   * everywhere (target null). The row goes when no destination remains.
   * Returns the remaining record, or null when it was deleted or unknown.
   */
  removeDestination(serverId: string, backupId: string, target: string | null): BackupRecord | null {
    const entry = this.get(serverId, backupId);
    if (!entry) return null;
    const remaining = target === null ? [] : entry.record.destinations.filter((d) => d.target !== target);
    if (remaining.length === 0) {
      this.#delete.run(serverId, backupId);
      return null;
    }
    const record = { ...entry.record, destinations: remaining };
    this.upsert(entry.agentId, record);
    return record;
  }

  /** Drops the catalog rows one agent reported for the server (server/agent forget); returns how many. */
  removeServer(serverId: string, agentId: string): number {
    return this.#deleteOwned.run(serverId, agentId).changes;
  }
}
