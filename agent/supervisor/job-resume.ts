import { ReconSyncError, type ServerState } from '../../protocol/index.ts';
import type { ResumeOutcome } from '../types.ts';
import type { OperatorWord } from './intent.ts';

/**
 * The rules for a game that a job (backup, restore, update, scheduled restart)
 * stopped, kept beside the supervisor so its power actions read as one table:
 * - while the job holds the game down, a start or restart is refused (BUSY):
 *   it would run the game under the job (world copied, swapped or replaced);
 * - at the job's end the game starts again only when the operator's word is
 *   not "stop": an operator stop issued during the job wins.
 */

/** BUSY when a job holds the game down (held, no process). Queuing the start instead would surprise whoever asked minutes later. */
export function refuseWhileJobHolds(action: 'start' | 'restart', name: string, heldBy: readonly string[], hasProcess: boolean): void {
  if (heldBy.length === 0 || hasProcess) return;
  throw new ReconSyncError('BUSY', `cannot ${action} ${name}: the ${heldBy.join(' and the ')} keeps it stopped; it starts again by itself when that ends (unless an operator stopped it meanwhile), so wait for it, or ${action} it then`);
}

/** Null when the game may start again; else the outcome that says why it stays down. */
export async function operatorKeepsItStopped(word: OperatorWord, job: string, state: ServerState): Promise<Extract<ResumeOutcome, { started: false }> | null> {
  if ((await word.read()) !== 'stop') return null;
  return { started: false, state, message: `left stopped: an operator stopped it during the ${job}` };
}
