import { chmod, copyFile, open, rename, stat, truncate, unlink, type FileHandle } from 'node:fs/promises';

/**
 * The game's stdout/stderr go straight into `<dataDir>/logs/<serverId>.log`:
 * the child gets the file descriptor itself (opened O_APPEND), not a pipe, so
 * the game keeps running and logging when the agent restarts (a pipe would
 * close and a game writing to it would die of SIGPIPE).
 *
 * Because the game holds the descriptor, a running log is rotated by copy +
 * truncate (logrotate's copytruncate): O_APPEND makes the game's next write
 * land at the new end. Lines written between the copy and the truncate are
 * lost; that is the price of not owning the pipe. Before a spawn, when nobody
 * writes, the file is renamed instead.
 */
export interface LogRotation {
  /** Rotate once the live file is larger than this. */
  maxBytes: number;
  /** Rotated files kept: <log>.1 (newest) .. <log>.<keep>. */
  keep: number;
}

export const DefaultLogRotation = {
  maxBytes: 10 * 1024 * 1024,
  keep: 3,
} as const satisfies LogRotation;

/**
 * Owner-only: the log holds whatever the game prints (IPs, chat, sometimes its
 * own settings), and our command-line header. The agent's service account
 * reads it; nobody else on the machine needs to.
 */
export const PROCESS_LOG_MODE = 0o600;

/**
 * Opens the live log for appending with PROCESS_LOG_MODE. The mode given to
 * open() only applies to a new file, so a log (and rotated copies) left 0644
 * by an older agent is tightened here too.
 */
export async function openProcessLog(file: string, rotation: LogRotation): Promise<FileHandle> {
  const fh = await open(file, 'a', PROCESS_LOG_MODE);
  try {
    await fh.chmod(PROCESS_LOG_MODE);
    for (let n = 1; n <= rotation.keep; n++) await chmod(`${file}.${n}`, PROCESS_LOG_MODE).catch(ignoreMissing);
  } catch (err) {
    await fh.close();
    throw err;
  }
  return fh;
}

/** Rotates `file` when it is over the limit. Returns true when it rotated. */
export async function rotateIfLarge(file: string, rotation: LogRotation, mode: 'rename' | 'copytruncate'): Promise<boolean> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  if (size <= rotation.maxBytes) return false;
  await shift(file, rotation.keep);
  if (rotation.keep < 1) {
    await truncate(file, 0);
    return true;
  }
  if (mode === 'rename') {
    await rename(file, `${file}.1`);
  } else {
    await copyFile(file, `${file}.1`);
    await truncate(file, 0);
  }
  return true;
}

/** <log>.<n> → <log>.<n+1>, dropping the oldest. */
async function shift(file: string, keep: number): Promise<void> {
  await unlink(`${file}.${keep}`).catch(ignoreMissing);
  for (let n = keep - 1; n >= 1; n--) {
    await rename(`${file}.${n}`, `${file}.${n + 1}`).catch(ignoreMissing);
  }
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}
