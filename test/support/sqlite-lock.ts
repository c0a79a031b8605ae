// Another process holding a write lock on a SQLite file, as an operator's sqlite3 shell or a backup
// tool would: the hub's writes then fail with SQLITE_BUSY ("database is locked") after its busy timeout.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { repoRoot } from './stack.ts';

export interface HeldLock {
  /** Commits, closes the file and waits for the process to exit. */
  release(): Promise<void>;
}

const SCRIPT = `
import Sqlite from 'better-sqlite3';
const db = new Sqlite(process.argv[1], { timeout: 10000 });
db.exec('BEGIN EXCLUSIVE');
process.stdout.write('locked\\n');
process.stdin.resume();
process.stdin.on('end', () => { db.exec('COMMIT'); db.close(); process.stdout.write('released\\n'); });
`;

/** Starts a process that takes BEGIN EXCLUSIVE on `file`; resolves once the lock is held. */
export async function holdExclusiveLock(file: string, signal: AbortSignal = AbortSignal.timeout(10_000)): Promise<HeldLock> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', SCRIPT, file], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = once(child, 'exit');
  try {
    await new Promise<void>((resolve, reject) => {
      const check = () => out.includes('locked\n') && (cleanup(), resolve());
      const onExit = () => (cleanup(), reject(new Error(`lock holder exited before locking: ${out}`)));
      const onAbort = () => (cleanup(), reject(new Error(`lock holder did not lock in time: ${out}`)));
      const cleanup = () => {
        child.stdout.off('data', check);
        child.off('exit', onExit);
        signal.removeEventListener('abort', onAbort);
      };
      child.stdout.on('data', check);
      child.once('exit', onExit);
      signal.addEventListener('abort', onAbort, { once: true });
      check();
    });
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  let released: Promise<void> | undefined;
  return {
    release: () => {
      released ??= (async () => {
        child.stdin.end();
        const [code] = (await exited) as [number | null];
        if (code !== 0 || !out.includes('released')) throw new Error(`lock holder failed to release (exit ${code}): ${out}`);
      })();
      return released;
    },
  };
}
