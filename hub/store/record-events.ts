import type { Database, Statement } from 'better-sqlite3';

export interface RecordEventRow {
  agentId: string;
  seq: number;
  topic: string;
  data: unknown;
  receivedAt: string;
}

/** Outcome records accepted from agents, keyed by (agent, seq): the hub side of exactly-once delivery. */
export class RecordEventsTable {
  readonly #insert: Statement<[string, number, string, string, string]>;
  readonly #removeAgent: Statement<[string]>;
  readonly #keepNewest: Statement<[string, string, number]>;
  readonly #list: Statement<[string, number, number], { agent_id: string; seq: number; topic: string; data: string; received_at: string }>;

  constructor(db: Database) {
    this.#insert = db.prepare('INSERT OR IGNORE INTO record_events (agent_id, seq, topic, data, received_at) VALUES (?, ?, ?, ?, ?)');
    this.#removeAgent = db.prepare('DELETE FROM record_events WHERE agent_id = ?');
    this.#keepNewest = db.prepare(
      'DELETE FROM record_events WHERE agent_id = ? AND seq < (SELECT seq FROM record_events WHERE agent_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)',
    );
    this.#list = db.prepare('SELECT * FROM record_events WHERE agent_id = ? AND seq > ? ORDER BY seq LIMIT ?');
  }

  /** Returns false when (agent, seq) was already stored. */
  insert(agentId: string, seq: number, topic: string, data: unknown, at: string): boolean {
    return this.#insert.run(agentId, seq, topic, JSON.stringify(data), at).changes === 1;
  }

  list(agentId: string, afterSeq = 0, limit = 1000): RecordEventRow[] {
    return this.#list.all(agentId, afterSeq, limit).map((r) => ({ agentId: r.agent_id, seq: r.seq, topic: r.topic, data: JSON.parse(r.data) as unknown, receivedAt: r.received_at }));
  }

  /**
   * Keeps an agent's newest `n` records and drops the older ones. What a record did (the catalog,
   * events, audit) is stored apart, and re-sends are recognised by the agent's acked seq, not by
   * these rows: they are only the raw delivery log, and one agent must not grow it without bound.
   */
  keepNewest(agentId: string, n: number): number {
    return this.#keepNewest.run(agentId, agentId, n - 1).changes;
  }

  /** Drops an agent's delivery history (agent forget): a re-enrolled agent with the same id starts afresh. */
  removeAgent(agentId: string): number {
    return this.#removeAgent.run(agentId).changes;
  }
}
