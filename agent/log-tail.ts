import { open } from 'node:fs/promises';
import { redactKeyValues, redactKnown } from '../lib/redact.ts';

/** Bounds of one log tail: what one RPC answer may carry (frames are capped at 1 MiB). */
export const LogTailLimits = {
  maxLines: 1000,
  /** Read at most this much from the end of the file. */
  maxBytes: 256 * 1024,
  /** Longer lines are cut (a game dumping a blob on one line). */
  maxLineChars: 1000,
} as const;

export interface LogTail {
  lines: string[];
  /** True when the file held more than was read (older lines exist). */
  truncated: boolean;
}

/**
 * The last `lines` lines of the game's log (<dataDir>/logs/<serverId>.log),
 * with the config's secrets and secret-named `key=value` pairs redacted.
 * A missing log (the game never ran under this agent) is an empty tail.
 */
export async function readLogTail(file: string, lines: number, secrets: readonly string[]): Promise<LogTail> {
  const want = Math.max(1, Math.min(lines, LogTailLimits.maxLines));
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { lines: [], truncated: false };
    throw err;
  }
  try {
    const { size } = await fh.stat();
    const length = Math.min(size, LogTailLimits.maxBytes);
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, size - length);
    let all = buf.toString('utf8').split(/\r?\n/);
    if (all.at(-1) === '') all.pop();
    // A read that started mid-file begins with a partial line: drop it.
    if (length < size) all = all.slice(1);
    const tail = all.slice(-want);
    return {
      lines: tail.map((l) => {
        const cut = l.length > LogTailLimits.maxLineChars ? `${l.slice(0, LogTailLimits.maxLineChars)}…` : l;
        return redactKnown(redactKeyValues(cut), secrets);
      }),
      truncated: length < size || all.length > want,
    };
  } finally {
    await fh.close();
  }
}
