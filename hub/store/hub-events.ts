import type { Database, Statement } from 'better-sqlite3';
import { severityOf, type EventKind, type HubEvent, type NewHubEvent, type Severity } from '../../protocol/event-kinds.ts';

type Raw = { id: number; at: string; kind: string; severity: string; agent_id: string | null; server_id: string | null; message: string; data: string };

function toEvent(r: Raw): HubEvent {
  let data: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(r.data) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) data = parsed as Record<string, unknown>;
  } catch {
    // A damaged row still lists; its data reads as empty.
  }
  return { id: r.id, at: r.at, kind: r.kind as EventKind, severity: r.severity as Severity, agentId: r.agent_id, serverId: r.server_id, message: r.message, data };
}

export interface EventQuery {
  /** Only events with an id above this (the cursor). */
  since?: number;
  serverId?: string;
  kinds?: readonly EventKind[];
  limit: number;
}

/** Events (design.md §10): alerts and outcomes, one row each, ids ascending (the API's cursor). Append only. */
export class HubEventsTable {
  readonly #db: Database;
  readonly #insert: Statement<[string, string, string, string | null, string | null, string, string]>;
  readonly #maxId: Statement<[], { id: number | null }>;
  readonly #cursor: Statement<[string], { last_event_id: number }>;
  readonly #setCursor: Statement<[string, number, string]>;
  readonly #prune: Statement<[number]>;

  constructor(db: Database) {
    this.#db = db;
    this.#insert = db.prepare('INSERT INTO hub_events (at, kind, severity, agent_id, server_id, message, data) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.#maxId = db.prepare('SELECT max(id) AS id FROM hub_events');
    this.#prune = db.prepare('DELETE FROM hub_events WHERE id <= ?');
    this.#cursor = db.prepare('SELECT last_event_id FROM webhook_cursors WHERE key = ?');
    this.#setCursor = db.prepare('INSERT INTO webhook_cursors (key, last_event_id, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET last_event_id = excluded.last_event_id, updated_at = excluded.updated_at');
  }

  /** Returns the stored event with its id. */
  append(e: NewHubEvent): HubEvent {
    const severity = e.severity ?? severityOf[e.kind];
    const message = e.message.slice(0, 2000);
    const id = Number(this.#insert.run(e.at, e.kind, severity, e.agentId, e.serverId, message, JSON.stringify(e.data)).lastInsertRowid);
    return { ...e, id, severity, message };
  }

  /** Oldest first, after `since`. */
  list(q: EventQuery): HubEvent[] {
    const where = ['id > ?'];
    const args: (string | number)[] = [q.since ?? 0];
    if (q.serverId !== undefined) {
      where.push('server_id = ?');
      args.push(q.serverId);
    }
    if (q.kinds && q.kinds.length > 0) {
      where.push(`kind IN (${q.kinds.map(() => '?').join(', ')})`);
      args.push(...q.kinds);
    }
    args.push(q.limit);
    // Kinds are a closed set (zod-checked by every caller), so the statement count stays small; prepare is cached by SQLite's text anyway.
    const rows = this.#db.prepare(`SELECT * FROM hub_events WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`).all(...args) as Raw[];
    return rows.map(toEvent);
  }

  /** Deletes events with an id at or below `id` (retention); returns how many. */
  pruneThrough(id: number): number {
    return this.#prune.run(id).changes;
  }

  maxId(): number {
    return this.#maxId.get()?.id ?? 0;
  }

  /** A webhook's delivery position: the last event id it has (or has given up on). */
  cursor(key: string): number | undefined {
    return this.#cursor.get(key)?.last_event_id;
  }

  setCursor(key: string, lastEventId: number, at: string): void {
    this.#setCursor.run(key, lastEventId, at);
  }
}
