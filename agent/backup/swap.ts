import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { exists, fsyncDir, isErrno, readdirOrEmpty, readJsonFile, writeFileAtomic } from './fs-util.ts';
import { safeParse } from '../../protocol/safe-parse.ts';
import { renameRetrying } from './rename-retry.ts';

/**
 * Crash-safe replacement of save folders by their restored copies. A journal
 * written before the first rename says what is being swapped; a restart of the
 * agent reads it and either rolls back (swap not finished) or completes it
 * (all renames done), so a kill -9 at any moment leaves the old or the new
 * world in place, never a mix.
 *
 * phase `staging`  : staging folders being filled; rollback = delete them.
 * phase `swapping` : renames in progress; rollback = put every old folder back.
 * phase `swapped`  : every new folder in place; completing = delete the old ones.
 */

export const SwapStepSchema = z.object({
  /** The live save folder or file. */
  target: z.string(),
  /** The restored copy, beside it. */
  staging: z.string(),
  /** Where the old world goes during the swap, beside it. */
  aside: z.string(),
  /** Whether there was an old world at target when the journal was written. */
  hadOld: z.boolean(),
});
export type SwapStep = z.infer<typeof SwapStepSchema>;

export const JournalSchema = z.object({
  version: z.literal(1),
  jobId: z.string(),
  serverId: z.string(),
  backupId: z.string(),
  preRestoreBackupId: z.string().nullable(),
  phase: z.enum(['staging', 'swapping', 'swapped']),
  steps: z.array(SwapStepSchema),
  startedAt: z.string(),
});
export type Journal = z.infer<typeof JournalSchema>;

export function journalDir(dataDir: string): string {
  return path.join(dataDir, 'restore');
}

export function journalPath(dataDir: string, serverId: string): string {
  return path.join(journalDir(dataDir), `${serverId}.journal.json`);
}

/** Staging and aside names live beside the target so every rename stays on one filesystem. */
export function planStep(target: string, jobId: string, hadOld: boolean): SwapStep {
  const dir = path.dirname(target);
  const base = path.basename(target);
  return { target, staging: path.join(dir, `.${base}.reconsync-restore-${jobId}`), aside: path.join(dir, `.${base}.reconsync-old-${jobId}`), hadOld };
}

export async function writeJournal(dataDir: string, j: Journal): Promise<void> {
  await fs.mkdir(journalDir(dataDir), { recursive: true });
  await writeFileAtomic(journalPath(dataDir, j.serverId), `${JSON.stringify(JournalSchema.parse(j), null, 2)}\n`);
}

export async function removeJournal(dataDir: string, serverId: string): Promise<void> {
  await fs.rm(journalPath(dataDir, serverId), { force: true });
  await fsyncDir(journalDir(dataDir)).catch(() => undefined);
}

async function syncParents(steps: SwapStep[]): Promise<void> {
  for (const dir of new Set(steps.map((s) => path.dirname(s.target)))) await fsyncDir(dir);
}

/** Test seam: called between renames so a crash can be injected at an exact point. */
export type SwapHook = (point: 'aside' | 'in-place', step: SwapStep) => Promise<void>;

/** Moves every old world aside and every staging copy into place, then records `swapped`. */
export async function swapIn(dataDir: string, journal: Journal, hook?: SwapHook): Promise<Journal> {
  const j: Journal = { ...journal, phase: 'swapping' };
  await writeJournal(dataDir, j);
  for (const step of j.steps) {
    if (step.hadOld) {
      await renameRetrying(step.target, step.aside);
      await hook?.('aside', step);
    } else {
      // Nothing was there when we looked; anything there now is not ours to keep.
      await fs.rm(step.target, { recursive: true, force: true });
    }
    await renameRetrying(step.staging, step.target);
    await hook?.('in-place', step);
  }
  await syncParents(j.steps);
  const done: Journal = { ...j, phase: 'swapped' };
  await writeJournal(dataDir, done);
  return done;
}

/** Puts every old world back and deletes staging copies. Safe to run twice. */
export async function rollBack(dataDir: string, journal: Journal): Promise<void> {
  for (const step of journal.steps) {
    if (await exists(step.aside)) {
      if (await exists(step.target)) await fs.rm(step.target, { recursive: true, force: true });
      await renameRetrying(step.aside, step.target);
    } else if (!step.hadOld && journal.phase !== 'staging') {
      await fs.rm(step.target, { recursive: true, force: true });
    }
    await fs.rm(step.staging, { recursive: true, force: true });
  }
  await syncParents(journal.steps);
  await removeJournal(dataDir, journal.serverId);
}

/** The new world stays; old copies and leftovers go. */
export async function complete(dataDir: string, journal: Journal): Promise<void> {
  for (const step of journal.steps) {
    await fs.rm(step.aside, { recursive: true, force: true });
    await fs.rm(step.staging, { recursive: true, force: true });
  }
  await removeJournal(dataDir, journal.serverId);
}

export interface RecoveredRestore {
  serverId: string;
  backupId: string;
  preRestoreBackupId: string | null;
  action: 'rolled-back' | 'completed';
}

/** At agent start: finish or undo every restore a crash interrupted. */
export async function recoverSwaps(dataDir: string): Promise<RecoveredRestore[]> {
  const names = await readdirOrEmpty(journalDir(dataDir));
  const out: RecoveredRestore[] = [];
  for (const name of names) {
    const file = path.join(journalDir(dataDir), name);
    if (!name.endsWith('.journal.json')) {
      if (name.endsWith('.tmp')) await fs.rm(file, { force: true });
      continue;
    }
    const parsed = safeParse(JournalSchema, await readJsonFile(file));
    if (!parsed.success) throw new Error(`restore journal ${file} is unreadable; inspect it and the save folders it names before starting the agent again`);
    const j = parsed.data;
    const base = { serverId: j.serverId, backupId: j.backupId, preRestoreBackupId: j.preRestoreBackupId };
    if (j.phase === 'swapped') {
      await complete(dataDir, j);
      out.push({ ...base, action: 'completed' });
    } else {
      await rollBack(dataDir, j);
      out.push({ ...base, action: 'rolled-back' });
    }
  }
  return out;
}
