import type { Database, Statement } from 'better-sqlite3';

export type OwnershipChangeKind = 'server' | 'agent';

export interface OwnershipChange {
  seq: number;
  kind: OwnershipChangeKind;
  /** The server id (kind server) or agent id (kind agent) that was forgotten. */
  subject: string;
  /** The agent that owned the server (kind server); the agent itself (kind agent). */
  formerOwner: string;
  at: string;
}

type Raw = { seq: number; kind: string; subject: string; former_owner: string; at: string };

/**
 * Operator "forget" commands, in order. The CLI runs in another process, so
 * the store is the channel: a running hub polls this log (as it polls token
 * revocations) and drops the forgotten servers and sessions from memory.
 */
export class OwnershipChangesTable {
  readonly #append: Statement<[string, string, string, string]>;
  readonly #since: Statement<[number], Raw>;
  readonly #max: Statement<[], { m: number | null }>;

  constructor(db: Database) {
    this.#append = db.prepare('INSERT INTO ownership_changes (kind, subject, former_owner, at) VALUES (?, ?, ?, ?)');
    this.#since = db.prepare('SELECT * FROM ownership_changes WHERE seq > ? ORDER BY seq LIMIT 1000');
    this.#max = db.prepare('SELECT MAX(seq) AS m FROM ownership_changes');
  }

  append(kind: OwnershipChangeKind, subject: string, formerOwner: string, at: string): number {
    return Number(this.#append.run(kind, subject, formerOwner, at).lastInsertRowid);
  }

  since(seq: number): OwnershipChange[] {
    return this.#since.all(seq).map((r) => ({ seq: r.seq, kind: r.kind === 'agent' ? 'agent' : 'server', subject: r.subject, formerOwner: r.former_owner, at: r.at }));
  }

  maxSeq(): number {
    return this.#max.get()?.m ?? 0;
  }
}
