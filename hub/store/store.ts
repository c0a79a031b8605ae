import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Sqlite, { type Database, type Statement } from 'better-sqlite3';
import { AgentsTable } from './agents.ts';
import { AuditTable } from './audit.ts';
import { BackupsTable } from './backups.ts';
import { DiscordMessagesTable } from './discord-messages.ts';
import { migrate } from './migrations.ts';
import { OwnershipChangesTable } from './ownership-changes.ts';
import { RecordEventsTable } from './record-events.ts';
import { ServerOwnersTable } from './server-owners.ts';
import { SnapshotsTable } from './snapshots.ts';
import { TokensTable } from './tokens.ts';

export const STORE_FILE = 'hub.sqlite';

export interface StoreOptions {
  /** How long a writer waits for another process (the CLI, or the hub) to release the lock. */
  busyTimeoutMs?: number;
}

const DefaultStoreOptions = { busyTimeoutMs: 5000 } satisfies Required<StoreOptions>;

/**
 * The hub's SQLite store. One connection per process; the hub and the CLI
 * (token create/revoke) share the file through WAL and busy_timeout.
 */
export class Store {
  readonly db: Database;
  readonly file: string;
  readonly agents: AgentsTable;
  readonly tokens: TokensTable;
  readonly snapshots: SnapshotsTable;
  readonly events: RecordEventsTable;
  readonly backups: BackupsTable;
  readonly discordMessages: DiscordMessagesTable;
  readonly audit: AuditTable;
  readonly owners: ServerOwnersTable;
  readonly ownershipChanges: OwnershipChangesTable;
  readonly schemaVersion: number;
  readonly #health: Statement<[string]>;

  private constructor(file: string, options: StoreOptions) {
    const opts = { ...DefaultStoreOptions, ...options };
    this.file = file;
    this.db = new Sqlite(file, { timeout: opts.busyTimeoutMs });
    try {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('foreign_keys = ON');
      this.schemaVersion = migrate(this.db);
    } catch (err) {
      this.db.close();
      throw err;
    }
    this.agents = new AgentsTable(this.db);
    this.tokens = new TokensTable(this.db);
    this.snapshots = new SnapshotsTable(this.db);
    this.events = new RecordEventsTable(this.db);
    this.backups = new BackupsTable(this.db);
    this.discordMessages = new DiscordMessagesTable(this.db);
    this.audit = new AuditTable(this.db);
    this.owners = new ServerOwnersTable(this.db);
    this.ownershipChanges = new OwnershipChangesTable(this.db);
    this.#health = this.db.prepare('INSERT INTO health (id, at) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET at = excluded.at');
  }

  /** Opens (creating if needed) dataDir/hub.sqlite and brings its schema up to date. */
  static open(dataDir: string, options: StoreOptions = {}): Store {
    mkdirSync(dataDir, { recursive: true });
    return new Store(path.join(dataDir, STORE_FILE), options);
  }

  /** Runs fn in one immediate (write-locked) transaction. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /** PRAGMA data_version: changes when another connection commits. */
  dataVersion(): number {
    return this.db.pragma('data_version', { simple: true }) as number;
  }

  /** Healthy means a write goes through. */
  healthy(): boolean {
    if (!this.db.open) return false;
    try {
      this.#health.run(new Date().toISOString());
      return true;
    } catch {
      return false;
    }
  }

  get open(): boolean {
    return this.db.open;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
