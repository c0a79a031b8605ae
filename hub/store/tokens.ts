import type { Database, Statement } from 'better-sqlite3';

export interface TokenRow {
  id: number;
  agentId: string;
  hash: Buffer;
  createdAt: string;
  revokedAt: string | null;
  /** When an agent last opened a session with this token (hello accepted); null = never. */
  lastUsedAt: string | null;
}

interface RawToken {
  id: number;
  agent_id: string;
  hash: Buffer;
  created_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
}

const toRow = (r: RawToken): TokenRow => ({ id: r.id, agentId: r.agent_id, hash: r.hash, createdAt: r.created_at, revokedAt: r.revoked_at, lastUsedAt: r.last_used_at });

/** Token hashes only. Hashing and comparison live in hub/tokens.ts. */
export class TokensTable {
  readonly #insert: Statement<[string, Buffer, string]>;
  readonly #byHash: Statement<[Buffer], RawToken>;
  readonly #revoke: Statement<[string, string]>;
  readonly #revokedSince: Statement<[number], { id: number; agent_id: string; revoke_seq: number }>;
  readonly #maxRevokeSeq: Statement<[], { m: number | null }>;
  readonly #active: Statement<[string], RawToken>;
  readonly #allActive: Statement<[], RawToken>;
  readonly #used: Statement<[string, number]>;

  constructor(db: Database) {
    this.#insert = db.prepare('INSERT INTO tokens (agent_id, hash, created_at) VALUES (?, ?, ?)');
    this.#byHash = db.prepare('SELECT * FROM tokens WHERE hash = ? AND revoked_at IS NULL');
    // The revoke_seq is computed inside the UPDATE, under SQLite's write lock, so it is monotonic across processes.
    this.#revoke = db.prepare(`UPDATE tokens SET revoked_at = ?,
      revoke_seq = (SELECT COALESCE(MAX(revoke_seq), 0) + 1 FROM tokens)
      WHERE agent_id = ? AND revoked_at IS NULL`);
    this.#revokedSince = db.prepare('SELECT id, agent_id, revoke_seq FROM tokens WHERE revoke_seq > ? ORDER BY revoke_seq');
    this.#maxRevokeSeq = db.prepare('SELECT MAX(revoke_seq) AS m FROM tokens');
    this.#active = db.prepare('SELECT * FROM tokens WHERE agent_id = ? AND revoked_at IS NULL ORDER BY id');
    this.#allActive = db.prepare('SELECT * FROM tokens WHERE revoked_at IS NULL ORDER BY agent_id, id');
    this.#used = db.prepare('UPDATE tokens SET last_used_at = ? WHERE id = ?');
  }

  insert(agentId: string, hash: Buffer, at: string): number {
    return Number(this.#insert.run(agentId, hash, at).lastInsertRowid);
  }

  /** The active (not revoked) token with this hash, if any. */
  findActiveByHash(hash: Buffer): TokenRow | null {
    const r = this.#byHash.get(hash);
    return r ? toRow(r) : null;
  }

  /**
   * Revokes every active token of the agent; returns how many. The uncorrelated
   * subquery is evaluated once, so one revocation shares one revoke_seq.
   */
  revokeAgent(agentId: string, at: string): number {
    return this.#revoke.run(at, agentId).changes;
  }

  activeFor(agentId: string): TokenRow[] {
    return this.#active.all(agentId).map(toRow);
  }

  /** Every valid token, by agent (for `token list`; the caller shows no hash). */
  listActive(): TokenRow[] {
    return this.#allActive.all().map(toRow);
  }

  markUsed(tokenId: number, at: string): void {
    this.#used.run(at, tokenId);
  }

  revokedSince(seq: number): { tokenId: number; agentId: string; revokeSeq: number }[] {
    return this.#revokedSince.all(seq).map((r) => ({ tokenId: r.id, agentId: r.agent_id, revokeSeq: r.revoke_seq }));
  }

  maxRevokeSeq(): number {
    return this.#maxRevokeSeq.get()?.m ?? 0;
  }
}
