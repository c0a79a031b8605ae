import fs from 'node:fs/promises';

/**
 * Windows refuses a rename while another process holds the file or folder open
 * without FILE_SHARE_DELETE: an antivirus scan of a fresh archive, the search
 * indexer, Explorer showing a save folder. Those let go within moments, so a
 * rename that fails with EPERM, EBUSY or EACCES is tried again with a growing
 * pause, a bounded number of times, and then fails with the last error (which
 * names the path). Elsewhere such errors are permanent; the bound keeps that
 * case to a few seconds.
 */
export const DefaultRenameRetry = {
  /** Pauses between attempts, in ms: about 3 s in all. */
  delaysMs: [50, 100, 200, 400, 800, 1600],
  codes: ['EPERM', 'EBUSY', 'EACCES'],
} as const;

export interface RenameRetryOptions {
  delaysMs?: readonly number[];
  /** The rename itself; tests inject one that fails the way a held file does on Windows. */
  rename?: (from: string, to: string) => Promise<void>;
  sleep?: (ms: number) => Promise<void>;
}

export async function renameRetrying(from: string, to: string, opts: RenameRetryOptions = {}): Promise<void> {
  const rename = opts.rename ?? fs.rename;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const delays = opts.delaysMs ?? DefaultRenameRetry.delaysMs;
  for (let attempt = 0; ; attempt++) {
    try {
      await rename(from, to);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      const delay = delays[attempt];
      if (delay === undefined || !(DefaultRenameRetry.codes as readonly string[]).includes(code)) throw err;
      await sleep(delay);
    }
  }
}
