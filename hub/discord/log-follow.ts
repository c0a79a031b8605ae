/**
 * Pure helpers of /console's thread: which lines of a fresh log tail are new,
 * and how lines go into Discord messages (code blocks of at most `max` chars).
 */

/** Marks lines the follow could not show (more came between two reads than one tail holds, or the log started over). */
export const GAP_LINE = '…';

/**
 * The lines of `cur` that were not in `prev`: the server only gives tails,
 * so the longest end of `prev` that `cur` starts with is what both saw.
 * With no overlap (a busy log or a restarted game) all of `cur` is new and a
 * gap line says something may be missing. A line repeated exactly across a
 * whole tail can be taken for one already seen: the cost of tails without a cursor.
 */
export function newLines(prev: readonly string[], cur: readonly string[]): string[] {
  for (let k = Math.min(prev.length, cur.length); k > 0; k--) {
    let same = true;
    for (let j = 0; j < k && same; j++) same = prev[prev.length - k + j] === cur[j];
    if (same) return cur.slice(k);
  }
  return prev.length > 0 && cur.length > 0 ? [GAP_LINE, ...cur] : [...cur];
}

const FENCE_OPEN = '```\n';
const FENCE_CLOSE = '\n```';

/** Log text cannot close the code block early (the agent already redacted secrets). */
export function fenceSafe(line: string): string {
  return line.replaceAll('```', 'ˋˋˋ');
}

/**
 * Takes lines off the front of `pending` into one code-block message of at
 * most `max` chars; a single line too long for a message is cut. Returns null
 * when nothing is pending.
 */
export function takeMessage(pending: string[], max: number): string | null {
  if (pending.length === 0) return null;
  const room = max - FENCE_OPEN.length - FENCE_CLOSE.length;
  const out: string[] = [];
  let size = 0;
  while (pending.length > 0) {
    let line = fenceSafe(pending[0]!);
    if (out.length === 0 && line.length > room) line = `${line.slice(0, room - 1)}…`;
    const add = (out.length > 0 ? 1 : 0) + line.length;
    if (size + add > room) break;
    pending.shift();
    out.push(line);
    size += add;
  }
  // An empty line still needs a character for Discord to keep the block.
  return `${FENCE_OPEN}${out.join('\n') || ' '}${FENCE_CLOSE}`;
}
