import type { Database, Statement } from 'better-sqlite3';

export interface OwnerRow {
  serverId: string;
  agentId: string;
  claimedAt: string;
}

type Raw = { server_id: string; agent_id: string; claimed_at: string };
const toRow = (r: Raw): OwnerRow => ({ serverId: r.server_id, agentId: r.agent_id, claimedAt: r.claimed_at });

/**
 * Which agent owns which server id: the first agent whose hello listed it.
 * Only an operator (server forget / agent forget) releases an id; an agent
 * that stops listing a server keeps owning it, so no other agent can take it
 * over while the owner is offline.
 */
export class ServerOwnersTable {
  readonly #claim: Statement<[string, string, string]>;
  readonly #get: Statement<[string], Raw>;
  readonly #all: Statement<[], Raw>;
  readonly #byAgent: Statement<[string], Raw>;
  readonly #countOf: Statement<[string], { n: number }>;
  readonly #release: Statement<[string, string]>;

  constructor(db: Database) {
    this.#claim = db.prepare('INSERT INTO server_owners (server_id, agent_id, claimed_at) VALUES (?, ?, ?) ON CONFLICT(server_id) DO NOTHING');
    this.#get = db.prepare('SELECT * FROM server_owners WHERE server_id = ?');
    this.#all = db.prepare('SELECT * FROM server_owners ORDER BY server_id');
    this.#byAgent = db.prepare('SELECT * FROM server_owners WHERE agent_id = ? ORDER BY server_id');
    this.#countOf = db.prepare('SELECT count(*) AS n FROM server_owners WHERE agent_id = ?');
    this.#release = db.prepare('DELETE FROM server_owners WHERE server_id = ? AND agent_id = ?');
  }

  /** Claims the id for the agent unless someone owns it already; returns the owner after the claim. */
  claim(serverId: string, agentId: string, at: string): string {
    this.#claim.run(serverId, agentId, at);
    return this.#get.get(serverId)?.agent_id ?? agentId;
  }

  /** How many server ids the agent owns (listed or not). */
  countOf(agentId: string): number {
    return this.#countOf.get(agentId)?.n ?? 0;
  }

  ownerOf(serverId: string): string | null {
    return this.#get.get(serverId)?.agent_id ?? null;
  }

  get(serverId: string): OwnerRow | null {
    const r = this.#get.get(serverId);
    return r ? toRow(r) : null;
  }

  list(): OwnerRow[] {
    return this.#all.all().map(toRow);
  }

  ownedBy(agentId: string): string[] {
    return this.#byAgent.all(agentId).map((r) => r.server_id);
  }

  /** Releases the id only if that agent still owns it (a newer claim by another agent stays). */
  release(serverId: string, agentId: string): boolean {
    return this.#release.run(serverId, agentId).changes === 1;
  }
}
