import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Sqlite, { type Database, type Statement } from 'better-sqlite3';
import { AgentsTable } from './agents.ts';
import { ApiKeysTable } from './api-keys.ts';
import { AuditTable } from './audit.ts';
import { BackupsTable } from './backups.ts';
import { DiscordMessagesTable } from './discord-messages.ts';
import { StoreHealth, isStoreError, storeErrorCode, type StoreHealthOptions } from './health.ts';
import { HubEventsTable } from './hub-events.ts';
import { migrate } from './migrations.ts';
import { OwnershipChangesTable } from './ownership-changes.ts';
import { RecordEventsTable } from './record-events.ts';
import { ServerOwnersTable } from './server-owners.ts';
import { SnapshotsTable } from './snapshots.ts';
import { TokensTable } from './tokens.ts';
import { UpdatesTable } from './updates.ts';
import { errorMessage } from '../../lib/error-message.ts';

export const STORE_FILE = 'hub.sqlite';
/**
 * Written next to hub.sqlite once a store was created: proof that this
 * dataDir held a store, so a missing or emptied hub.sqlite is refused rather
 * than silently replaced by an empty one (every token gone, issue 10 §8).
 */
export const STORE_MARKER = 'hub.sqlite.created';

export interface StoreOptions {
  /** How long a writer waits for another process (the CLI, or the hub) to release the lock. */
  busyTimeoutMs?: number;
  /**
   * The wait while the store is known to be failing, and for the /healthz
   * probe: better-sqlite3 blocks the event loop while it waits, so a store
   * locked for long must not freeze the hub for busyTimeoutMs per write.
   */
  faultBusyTimeoutMs?: number;
  /** PRAGMA quick_check before anything else: a corrupt store is refused at start. */
  integrityCheck?: boolean;
  health?: StoreHealthOptions;
}

const DefaultStoreOptions = { busyTimeoutMs: 5000, faultBusyTimeoutMs: 250, integrityCheck: true, health: {} } satisfies Required<StoreOptions>;

/** The store cannot be opened safely; the message says what the operator should do. */
export class StoreOpenError extends Error {
  override readonly name = 'StoreOpenError';
  constructor(
    readonly reason: 'corrupt' | 'lost',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export type StoreProbe = { ok: true } | { ok: false; reason: string };

/** Most problems quick_check lists in an error message. */
const MAX_INTEGRITY_LINES = 5;

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
  readonly updates: UpdatesTable;
  /** Events (alerts and outcomes) for the events API, its stream and webhooks. */
  readonly hubEvents: HubEventsTable;
  /** Scoped API keys (hashes only). */
  readonly apiKeys: ApiKeysTable;
  readonly schemaVersion: number;
  /** Failing operations: /healthz, the store metrics and the fault log line read this. */
  readonly health: StoreHealth;
  readonly #health: Statement<[string]>;
  readonly #opts: Required<StoreOptions>;

  // The one TypeScript 'private' left on purpose: '#' has no constructor form, and Store.open() must be the only way in (it checks and migrates).
  private constructor(file: string, options: StoreOptions) {
    const opts = { ...DefaultStoreOptions, ...options };
    this.#opts = opts;
    this.file = file;
    this.health = new StoreHealth(opts.health);
    this.db = new Sqlite(file, { timeout: opts.busyTimeoutMs });
    try {
      // Checked first: journal_mode and migrations would write into a damaged file.
      if (opts.integrityCheck) checkIntegrity(this.db, file);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('foreign_keys = ON');
      this.schemaVersion = migrate(this.db);
    } catch (err) {
      this.db.close();
      if (err instanceof StoreOpenError) throw err;
      if (['SQLITE_CORRUPT', 'SQLITE_NOTADB'].includes(storeErrorCode(err))) throw corrupt(file, errorMessage(err), err);
      throw err;
    }
    // Fail fast while the store is failing (see faultBusyTimeoutMs); wait normally again once writes succeed.
    this.health.on('change', (faulty) => {
      if (this.db.open) this.db.pragma(`busy_timeout = ${faulty ? opts.faultBusyTimeoutMs : opts.busyTimeoutMs}`);
    });
    this.agents = new AgentsTable(this.db);
    this.tokens = new TokensTable(this.db);
    this.snapshots = new SnapshotsTable(this.db);
    this.events = new RecordEventsTable(this.db);
    this.backups = new BackupsTable(this.db);
    this.discordMessages = new DiscordMessagesTable(this.db);
    this.audit = new AuditTable(this.db);
    this.owners = new ServerOwnersTable(this.db);
    this.ownershipChanges = new OwnershipChangesTable(this.db);
    this.updates = new UpdatesTable(this.db);
    this.hubEvents = new HubEventsTable(this.db);
    this.apiKeys = new ApiKeysTable(this.db);
    this.#health = this.db.prepare('INSERT INTO health (id, at) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET at = excluded.at');
  }

  /**
   * Opens (creating if needed) dataDir/hub.sqlite and brings its schema up to
   * date. Throws StoreOpenError for a store that fails the integrity check,
   * and for a missing or empty hub.sqlite in a dataDir that held one.
   */
  static open(dataDir: string, options: StoreOptions = {}): Store {
    mkdirSync(dataDir, { recursive: true });
    const file = path.join(dataDir, STORE_FILE);
    refuseLostStore(dataDir, file);
    const store = new Store(file, options);
    const marker = path.join(dataDir, STORE_MARKER);
    if (!existsSync(marker)) {
      try {
        writeFileSync(marker, `${JSON.stringify({ createdAt: new Date().toISOString(), note: 'ReconSync refuses to start when hub.sqlite is missing or empty while this file exists; delete it only to start over with an empty store' })}\n`, { mode: 0o640 });
      } catch (err) {
        store.close();
        throw err;
      }
    }
    return store;
  }

  /**
   * Runs fn in one immediate (write-locked) transaction. `op` names the
   * operation for health tracking: a store failure marks it failing (so
   * /healthz answers 503) until it succeeds again.
   */
  transaction<T>(fn: () => T, op = 'write'): T {
    let result: T;
    try {
      result = this.db.transaction(fn).immediate();
    } catch (err) {
      if (isStoreError(err)) this.health.failed(op, err);
      throw err;
    }
    this.health.succeeded(op);
    return result;
  }

  /** PRAGMA data_version: changes when another connection commits. */
  dataVersion(): number {
    return this.db.pragma('data_version', { simple: true }) as number;
  }

  /**
   * Healthy means a write goes through now and no other operation is
   * failing. The probe waits at most faultBusyTimeoutMs for a lock: a health
   * check must answer, not hang with the store.
   */
  probe(): StoreProbe {
    if (!this.db.open) return { ok: false, reason: 'the store is closed' };
    this.db.pragma(`busy_timeout = ${this.#opts.faultBusyTimeoutMs}`);
    try {
      this.#health.run(new Date().toISOString());
      this.health.succeeded('probe');
    } catch (err) {
      this.health.failed('probe', err);
    } finally {
      if (this.db.open) this.db.pragma(`busy_timeout = ${this.health.faulty ? this.#opts.faultBusyTimeoutMs : this.#opts.busyTimeoutMs}`);
    }
    const fault = this.health.current();
    if (!fault) return { ok: true };
    return { ok: false, reason: `store ${fault.op} failing since ${fault.since} (${fault.count}x): ${fault.code}: ${fault.message}` };
  }

  healthy(): boolean {
    return this.probe().ok;
  }

  get open(): boolean {
    return this.db.open;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function corrupt(file: string, detail: string, cause?: unknown): StoreOpenError {
  return new StoreOpenError(
    'corrupt',
    `${file} is damaged (${detail}); the hub will not start on it. Stop every process using it, keep a copy, then restore hub.sqlite from a backup ` +
      `(or try \`sqlite3 ${path.basename(file)} .recover\` into a new file)`,
    cause === undefined ? undefined : { cause },
  );
}

function checkIntegrity(db: Database, file: string): void {
  const rows = db.pragma('quick_check') as { quick_check: string }[];
  const problems = rows.map((r) => r.quick_check).filter((m) => m !== 'ok');
  if (problems.length === 0) return;
  const shown = problems.slice(0, MAX_INTEGRITY_LINES).join('; ');
  throw corrupt(file, `integrity check: ${shown}${problems.length > MAX_INTEGRITY_LINES ? `; and ${problems.length - MAX_INTEGRITY_LINES} more` : ''}`);
}

/**
 * SQLite would take a missing or 0-byte file as a new, empty database. That
 * is right for a brand-new dataDir only: with the marker or WAL leftovers
 * present a store existed here, and starting empty would drop every token.
 */
function refuseLostStore(dataDir: string, file: string): void {
  const size = statSync(file, { throwIfNoEntry: false })?.size;
  if (size !== undefined && size > 0) return;
  const signs = [STORE_MARKER, `${STORE_FILE}-wal`, `${STORE_FILE}-shm`].filter((f) => existsSync(path.join(dataDir, f)));
  // A 0-byte hub.sqlite is never one this hub left behind (the first pragma writes its header), so it is refused even without signs.
  if (size === undefined && signs.length === 0) return;
  const what = size === undefined ? 'is missing' : 'is empty (0 bytes)';
  const evidence = signs.length > 0 ? `, but ${signs.join(', ')} show${signs.length === 1 ? 's' : ''} a store existed in ${dataDir}` : '';
  throw new StoreOpenError(
    'lost',
    `${file} ${what}${evidence}; the hub will not start with an empty store (every agent token would be gone). ` +
      `Restore hub.sqlite from a backup, or, to start over with an empty store on purpose, delete ${[...(size === undefined ? [] : [STORE_FILE]), ...signs].map((f) => path.join(dataDir, f)).join(' and ')}`,
  );
}
