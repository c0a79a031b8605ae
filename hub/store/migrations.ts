import type { Database } from 'better-sqlite3';

/**
 * Versioned schema changes, applied in order and recorded in PRAGMA user_version.
 * Append only: a shipped migration is never edited, a change is a new entry.
 */
export interface Migration {
  version: number;
  name: string;
  up: (db: Database) => void;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    up: (db) => {
      db.exec(`
        CREATE TABLE agents (
          id         TEXT PRIMARY KEY,
          version    TEXT,
          last_seen  TEXT,
          servers    TEXT NOT NULL DEFAULT '[]',   -- JSON: [ServerSummary]
          acked_seq  INTEGER NOT NULL DEFAULT 0,   -- highest record seq accepted
          created_at TEXT NOT NULL
        ) STRICT;

        CREATE TABLE tokens (
          id          INTEGER PRIMARY KEY,
          agent_id    TEXT NOT NULL,
          hash        BLOB NOT NULL UNIQUE,        -- sha256 of the token; the token itself is never stored
          created_at  TEXT NOT NULL,
          revoked_at  TEXT,
          revoke_seq  INTEGER                      -- monotonic across processes: the hub polls for new ones
        ) STRICT;
        CREATE INDEX tokens_agent ON tokens(agent_id);
        CREATE INDEX tokens_revoke_seq ON tokens(revoke_seq) WHERE revoke_seq IS NOT NULL;

        CREATE TABLE server_snapshots (
          server_id  TEXT PRIMARY KEY,
          agent_id   TEXT NOT NULL,
          status     TEXT NOT NULL,                -- JSON: ServerStatus
          updated_at TEXT NOT NULL
        ) STRICT;
        CREATE INDEX server_snapshots_agent ON server_snapshots(agent_id);

        CREATE TABLE record_events (
          agent_id    TEXT NOT NULL,
          seq         INTEGER NOT NULL,
          topic       TEXT NOT NULL,
          data        TEXT NOT NULL,               -- JSON
          received_at TEXT NOT NULL,
          PRIMARY KEY (agent_id, seq)
        ) STRICT, WITHOUT ROWID;

        CREATE TABLE backups (
          server_id  TEXT NOT NULL,
          backup_id  TEXT NOT NULL,
          agent_id   TEXT NOT NULL,
          created_at TEXT NOT NULL,
          record     TEXT NOT NULL,                -- JSON: BackupRecord
          PRIMARY KEY (server_id, backup_id)
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX backups_newest ON backups(server_id, created_at DESC);

        CREATE TABLE discord_messages (
          channel_id TEXT NOT NULL,
          slot       TEXT NOT NULL,
          message_id TEXT NOT NULL,
          updated_at TEXT NOT NULL,
          PRIMARY KEY (channel_id, slot)
        ) STRICT, WITHOUT ROWID;

        CREATE TABLE audit_log (
          id         INTEGER PRIMARY KEY,
          at         TEXT NOT NULL,
          actor_kind TEXT NOT NULL,
          actor_id   TEXT NOT NULL,
          actor_name TEXT,
          action     TEXT NOT NULL,
          server_id  TEXT,
          outcome    TEXT NOT NULL,
          detail     TEXT
        ) STRICT;
        CREATE INDEX audit_server ON audit_log(server_id, id);

        CREATE TABLE health (id INTEGER PRIMARY KEY CHECK (id = 1), at TEXT NOT NULL) STRICT;
      `);
    },
  },
  {
    version: 2,
    name: 'server ownership, token last use, forget log',
    up: (db) => {
      db.exec(`
        ALTER TABLE tokens ADD COLUMN last_used_at TEXT;

        CREATE TABLE server_owners (
          server_id  TEXT PRIMARY KEY,
          agent_id   TEXT NOT NULL,             -- the first agent whose hello listed the server
          claimed_at TEXT NOT NULL
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX server_owners_agent ON server_owners(agent_id);

        CREATE TABLE ownership_changes (
          seq          INTEGER PRIMARY KEY AUTOINCREMENT,   -- the hub polls for new ones (the CLI writes from another process)
          kind         TEXT NOT NULL CHECK (kind IN ('server', 'agent')),
          subject      TEXT NOT NULL,
          former_owner TEXT NOT NULL,
          at           TEXT NOT NULL
        ) STRICT;
      `);
      // Owners for servers known before ownership was stored: among the agents that list a server in their
      // last hello, the one enrolled first (the closest we have to "first registered"); then snapshots.
      const claim = db.prepare('INSERT INTO server_owners (server_id, agent_id, claimed_at) VALUES (?, ?, ?) ON CONFLICT(server_id) DO NOTHING');
      const agents = db.prepare('SELECT id, servers, created_at FROM agents ORDER BY created_at, id').all() as { id: string; servers: string; created_at: string }[];
      for (const a of agents) {
        let servers: unknown;
        try {
          servers = JSON.parse(a.servers);
        } catch {
          continue; // a corrupt list claims nothing
        }
        if (!Array.isArray(servers)) continue;
        for (const s of servers as unknown[]) {
          const id = s && typeof s === 'object' ? (s as { id?: unknown }).id : undefined;
          if (typeof id === 'string') claim.run(id, a.id, a.created_at);
        }
      }
      db.exec('INSERT INTO server_owners (server_id, agent_id, claimed_at) SELECT server_id, agent_id, updated_at FROM server_snapshots WHERE true ON CONFLICT(server_id) DO NOTHING');
    },
  },
  {
    version: 3,
    name: 'game updates per server',
    up: (db) => {
      db.exec(`
        CREATE TABLE server_updates (
          server_id  TEXT PRIMARY KEY,
          agent_id   TEXT NOT NULL,
          info       TEXT NOT NULL,               -- JSON: UpdateInfo (design.md §10)
          updated_at TEXT NOT NULL
        ) STRICT;
      `);
    },
  },
  {
    version: 4,
    name: 'events and webhook delivery cursors',
    up: (db) => {
      db.exec(`
        CREATE TABLE hub_events (
          id        INTEGER PRIMARY KEY AUTOINCREMENT,   -- the events API's cursor: never reused
          at        TEXT NOT NULL,
          kind      TEXT NOT NULL,
          severity  TEXT NOT NULL,
          agent_id  TEXT,
          server_id TEXT,
          message   TEXT NOT NULL,
          data      TEXT NOT NULL                        -- JSON object
        ) STRICT;
        CREATE INDEX hub_events_server ON hub_events(server_id, id);
        CREATE INDEX hub_events_kind ON hub_events(kind, id);

        CREATE TABLE webhook_cursors (
          key           TEXT PRIMARY KEY,                -- sha256 of the webhook's url and format, never the url (it can hold a token)
          last_event_id INTEGER NOT NULL,
          updated_at    TEXT NOT NULL
        ) STRICT, WITHOUT ROWID;
      `);
    },
  },
  {
    version: 5,
    name: 'scoped API keys',
    up: (db) => {
      db.exec(`
        CREATE TABLE api_keys (
          name       TEXT PRIMARY KEY,                  -- what the audit log shows for the key's actions
          hash       BLOB NOT NULL UNIQUE,              -- sha256 of the key; the key itself is never stored
          scope      TEXT NOT NULL CHECK (scope IN ('read', 'operate', 'admin')),
          created_at TEXT NOT NULL,
          revoked_at TEXT,
          last_used_at TEXT
        ) STRICT, WITHOUT ROWID;
      `);
    },
  },
];

/** Applies every migration newer than the database, each in its own transaction. Returns the final version. */
export function migrate(db: Database, list: readonly Migration[] = migrations): number {
  let current = db.pragma('user_version', { simple: true }) as number;
  const latest = list.at(-1)?.version ?? 0;
  if (current > latest) {
    throw new Error(`hub store schema version ${current} is newer than this hub understands (${latest}); upgrade the hub or use its matching dataDir`);
  }
  for (const m of list) {
    if (m.version <= current) continue;
    db.transaction(() => {
      m.up(db);
      // user_version cannot be bound as a parameter; the value is an integer from our own list.
      db.pragma(`user_version = ${Math.trunc(m.version)}`);
    }).immediate();
    current = m.version;
  }
  return current;
}
