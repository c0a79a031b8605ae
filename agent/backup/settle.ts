import type { Clock } from '../../protocol/index.ts';
import { planSaves, type SaveSelection } from './walk.ts';

/**
 * Waits until the save files stop changing: after a save command the game
 * may still be writing (or renaming) for a while. Polls size + mtime of every
 * selected file; returns once nothing moved for `settleMs`, or after
 * `settleTimeoutMs` with `settled: false` (the copier's own change detection
 * still protects the archive).
 */
export async function waitUntilSettled(sel: SaveSelection, opts: { settleMs: number; settleTimeoutMs: number; clock: Clock; signal?: AbortSignal }): Promise<{ settled: boolean; waitedMs: number }> {
  const { clock } = opts;
  const start = clock.now();
  const pollMs = Math.min(500, Math.max(25, Math.floor(opts.settleMs / 4)));
  let prev = await fingerprint(sel);
  let stableSince = clock.now();
  for (;;) {
    const now = clock.now();
    if (now - stableSince >= opts.settleMs) return { settled: true, waitedMs: now - start };
    if (now - start >= opts.settleTimeoutMs) return { settled: false, waitedMs: now - start };
    await clock.sleep(pollMs, opts.signal);
    const cur = await fingerprint(sel);
    if (cur !== prev) {
      prev = cur;
      stableSince = clock.now();
    }
  }
}

async function fingerprint(sel: SaveSelection): Promise<string> {
  const plan = await planSaves(sel);
  const parts: string[] = [];
  for (const e of plan.entries) {
    if (e.kind !== 'file') continue;
    parts.push(`${e.archivePath}:${e.size}:${e.mtimeMs}`);
    for (const c of e.companions) parts.push(`${c.archivePath}:${c.size}:${c.mtimeMs}`);
  }
  return parts.join('\n');
}
