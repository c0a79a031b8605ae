import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Sqlite, { type Database } from 'better-sqlite3';
import { ReconSyncError } from '../../protocol/index.ts';
import { errorMessage } from '../../lib/error-message.ts';

export const HUB_LOCK_FILE = 'hub.lock';

/**
 * Keeps a second hub off a dataDir one already serves. Two hubs on one store
 * would both accept agents, both ingest and both post to Discord: sessions,
 * ownership and the outbox acks of one would be invisible to the other.
 *
 * The lock is an SQLite database held in EXCLUSIVE locking mode rather than a
 * pid file: SQLite's lock is the OS's own (fcntl on POSIX, LockFileEx on
 * Windows), so it is released when the holder dies, even by kill -9, and a
 * reused pid can never pass for the holder. Only the hub process takes it: the
 * CLI (tokens, forget) keeps sharing hub.sqlite with a running hub.
 */
export interface HubInstanceLock {
  release(): void;
}

/** Takes the lock on dataDir, or throws BUSY when another hub holds it. */
export function takeHubLock(dataDir: string): HubInstanceLock {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, HUB_LOCK_FILE);
  const db = new Sqlite(file, { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    // The first write in EXCLUSIVE mode takes the lock and keeps it until close.
    db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL, since TEXT NOT NULL); DELETE FROM holder;');
    db.prepare('INSERT INTO holder (pid, since) VALUES (?, ?)').run(process.pid, new Date().toISOString());
    return { release: () => release(db) };
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code === 'SQLITE_BUSY') {
      throw new ReconSyncError('BUSY', `another hub already runs on dataDir ${dataDir} (it holds ${file}); stop it first, or give this hub its own dataDir`);
    }
    throw new ReconSyncError('INTERNAL', `cannot take the hub lock ${file}: ${errorMessage(err)}`);
  }
}

function release(db: Database): void {
  if (db.open) db.close();
}
