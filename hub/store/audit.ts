import type { Database, Statement } from 'better-sqlite3';

// Who acted and what an audit row holds are defined here, by the table that stores them:
// hub/service re-exports them, and the store (below the service) imports nothing from it.
const ACTOR_KINDS = ['api', 'discord', 'cli', 'system'] as const;
const OUTCOMES = ['ok', 'denied', 'error'] as const;

/** Who asked: shown in the audit log. */
export interface Actor {
  kind: (typeof ACTOR_KINDS)[number];
  id: string;
  name?: string;
}

export interface AuditEntry {
  at: string;
  actor: Actor;
  action: string;
  serverId: string | null;
  outcome: (typeof OUTCOMES)[number];
  detail: string | null;
}

type Raw = { id: number; at: string; actor_kind: string; actor_id: string; actor_name: string | null; action: string; server_id: string | null; outcome: string; detail: string | null };

const actorKinds = new Set<Actor['kind']>(ACTOR_KINDS);
const outcomes = new Set<AuditEntry['outcome']>(OUTCOMES);

function toEntry(r: Raw): AuditEntry & { id: number } {
  const actor: Actor = { kind: actorKinds.has(r.actor_kind as Actor['kind']) ? (r.actor_kind as Actor['kind']) : 'system', id: r.actor_id };
  if (r.actor_name !== null) actor.name = r.actor_name;
  return {
    id: r.id,
    at: r.at,
    actor,
    action: r.action,
    serverId: r.server_id,
    outcome: outcomes.has(r.outcome as AuditEntry['outcome']) ? (r.outcome as AuditEntry['outcome']) : 'error',
    detail: r.detail,
  };
}

/** Who did what to which server, and how it went. Append only. */
export class AuditTable {
  readonly #insert: Statement<[string, string, string, string | null, string, string | null, string, string | null]>;
  readonly #recent: Statement<[number], Raw>;
  readonly #recentFor: Statement<[string, number], Raw>;

  constructor(db: Database) {
    this.#insert = db.prepare('INSERT INTO audit_log (at, actor_kind, actor_id, actor_name, action, server_id, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    this.#recent = db.prepare('SELECT * FROM audit_log ORDER BY id DESC LIMIT ?');
    this.#recentFor = db.prepare('SELECT * FROM audit_log WHERE server_id = ? ORDER BY id DESC LIMIT ?');
  }

  append(e: AuditEntry): void {
    this.#insert.run(e.at, e.actor.kind, e.actor.id, e.actor.name ?? null, e.action, e.serverId, e.outcome, e.detail === null ? null : e.detail.slice(0, 2000));
  }

  /** Newest first. */
  recent(limit = 100, serverId?: string): (AuditEntry & { id: number })[] {
    const rows = serverId === undefined ? this.#recent.all(limit) : this.#recentFor.all(serverId, limit);
    return rows.map(toEntry);
  }
}
