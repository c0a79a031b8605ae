import type { Database, Statement } from 'better-sqlite3';
import { z } from 'zod';
import { ServerSummarySchema, type ServerSummary } from '../../protocol/index.ts';

export interface AgentRow {
  id: string;
  version: string | null;
  lastSeen: string | null;
  servers: ServerSummary[];
  ackedSeq: number;
  createdAt: string;
}

interface RawAgent {
  id: string;
  version: string | null;
  last_seen: string | null;
  servers: string;
  acked_seq: number;
  created_at: string;
}

const ServersJson = z.array(ServerSummarySchema);

function toRow(r: RawAgent): AgentRow {
  // A row we wrote ourselves; a corrupt value degrades to "no servers" rather than failing the whole listing.
  const servers = ServersJson.safeParse(JSON.parse(r.servers));
  return { id: r.id, version: r.version, lastSeen: r.last_seen, servers: servers.success ? servers.data : [], ackedSeq: r.acked_seq, createdAt: r.created_at };
}

/** Known agents: the ones with a token and the ones that said hello. */
export class AgentsTable {
  readonly #ensure: Statement<[string, string]>;
  readonly #hello: Statement<[string, string, string, string, string]>;
  readonly #seen: Statement<[string, string]>;
  readonly #get: Statement<[string], RawAgent>;
  readonly #all: Statement<[], RawAgent>;
  readonly #ackedSeq: Statement<[string], { acked_seq: number }>;
  readonly #setAcked: Statement<[number, string, number]>;
  readonly #delete: Statement<[string]>;

  constructor(db: Database) {
    this.#ensure = db.prepare('INSERT INTO agents (id, created_at) VALUES (?, ?) ON CONFLICT(id) DO NOTHING');
    this.#hello = db.prepare(`INSERT INTO agents (id, version, last_seen, servers, created_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT(id) DO UPDATE SET version = excluded.version, last_seen = excluded.last_seen, servers = excluded.servers`);
    this.#seen = db.prepare('UPDATE agents SET last_seen = ? WHERE id = ?');
    this.#get = db.prepare('SELECT * FROM agents WHERE id = ?');
    this.#all = db.prepare('SELECT * FROM agents ORDER BY id');
    this.#ackedSeq = db.prepare('SELECT acked_seq FROM agents WHERE id = ?');
    this.#setAcked = db.prepare('UPDATE agents SET acked_seq = ? WHERE id = ? AND acked_seq < ?');
    this.#delete = db.prepare('DELETE FROM agents WHERE id = ?');
  }

  ensure(id: string, at: string): void {
    this.#ensure.run(id, at);
  }

  recordHello(id: string, version: string, servers: ServerSummary[], at: string): void {
    this.#hello.run(id, version, at, JSON.stringify(servers), at);
  }

  touch(id: string, at: string): void {
    this.#seen.run(at, id);
  }

  get(id: string): AgentRow | null {
    const r = this.#get.get(id);
    return r ? toRow(r) : null;
  }

  list(): AgentRow[] {
    return this.#all.all().map(toRow);
  }

  ackedSeq(id: string): number {
    return this.#ackedSeq.get(id)?.acked_seq ?? 0;
  }

  /** Raises the accepted-seq watermark; never lowers it. */
  raiseAckedSeq(id: string, seq: number): void {
    this.#setAcked.run(seq, id, seq);
  }

  /** Forgets the agent row (agent forget); returns false when there was none. */
  remove(id: string): boolean {
    return this.#delete.run(id).changes === 1;
  }
}
