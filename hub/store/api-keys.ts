import type { Database, Statement } from 'better-sqlite3';

export const apiScopes = ['read', 'operate', 'admin'] as const;
export type ApiScope = (typeof apiScopes)[number];

export interface ApiKeyRow {
  name: string;
  scope: ApiScope;
  createdAt: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

type Raw = { name: string; scope: string; created_at: string; revoked_at: string | null; last_used_at: string | null };
const toRow = (r: Raw): ApiKeyRow => ({ name: r.name, scope: r.scope as ApiScope, createdAt: r.created_at, revokedAt: r.revoked_at, lastUsedAt: r.last_used_at });

/** Scoped API keys (design.md §10): only their sha256 is stored. A revoked key keeps its row, so its name stays taken in the audit log. */
export class ApiKeysTable {
  readonly #insert: Statement<[string, Buffer, string, string]>;
  readonly #byHash: Statement<[Buffer], Raw>;
  readonly #get: Statement<[string], Raw>;
  readonly #revoke: Statement<[string, string]>;
  readonly #touch: Statement<[string, string]>;
  readonly #list: Statement<[], Raw>;

  constructor(db: Database) {
    this.#insert = db.prepare('INSERT INTO api_keys (name, hash, scope, created_at) VALUES (?, ?, ?, ?)');
    this.#byHash = db.prepare('SELECT name, scope, created_at, revoked_at, last_used_at FROM api_keys WHERE hash = ? AND revoked_at IS NULL');
    this.#get = db.prepare('SELECT name, scope, created_at, revoked_at, last_used_at FROM api_keys WHERE name = ?');
    this.#revoke = db.prepare('UPDATE api_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL');
    this.#touch = db.prepare('UPDATE api_keys SET last_used_at = ? WHERE name = ?');
    this.#list = db.prepare('SELECT name, scope, created_at, revoked_at, last_used_at FROM api_keys ORDER BY name');
  }

  insert(name: string, hash: Buffer, scope: ApiScope, at: string): void {
    this.#insert.run(name, hash, scope, at);
  }

  /** The valid key with this hash, or undefined. */
  byHash(hash: Buffer): ApiKeyRow | undefined {
    const r = this.#byHash.get(hash);
    return r ? toRow(r) : undefined;
  }

  get(name: string): ApiKeyRow | undefined {
    const r = this.#get.get(name);
    return r ? toRow(r) : undefined;
  }

  /** Returns true when a valid key of that name was revoked. */
  revoke(name: string, at: string): boolean {
    return this.#revoke.run(at, name).changes === 1;
  }

  touch(name: string, at: string): void {
    this.#touch.run(at, name);
  }

  list(): ApiKeyRow[] {
    return this.#list.all().map(toRow);
  }
}
