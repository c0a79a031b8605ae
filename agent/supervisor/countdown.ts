import { ReconSyncError, type Clock } from '../../protocol/index.ts';
import type { Logger } from '../../lib/logger.ts';
import type { AdminChannel } from '../types.ts';
import { withTimeout } from './timers.ts';

export interface CountdownDeps {
  clock: Clock;
  admin: AdminChannel | null;
  logger: Logger;
  /** Text players see `secondsLeft` before the restart. */
  message: (secondsLeft: number) => string;
  cancelledMessage: string;
  /** Bound for one broadcast, so a stuck admin channel cannot stretch the countdown. */
  broadcastTimeoutMs: number;
}

export const defaultRestartMessage = (secondsLeft: number): string => `Server restart in ${formatSeconds(secondsLeft)}.`;

/**
 * Waits until the restart time, broadcasting a warning at each of `warnAt`
 * seconds before it (the largest one marks "now"). Rejects with CANCELLED when
 * `signal` aborts, after telling the players. A failed broadcast is logged and
 * the countdown goes on: the warning is a courtesy, the restart was asked for.
 */
export async function runCountdown(d: CountdownDeps, warnAt: readonly number[], signal?: AbortSignal): Promise<void> {
  const points = [...new Set(warnAt)].filter((s) => s > 0).sort((a, b) => b - a);
  const first = points[0];
  if (first === undefined) return;
  const restartAt = d.clock.now() + first * 1000;
  if (!d.admin) d.logger.warn('no admin channel: players cannot be warned; the countdown only delays the restart');

  for (const secondsLeft of points) {
    await sleepUntil(d, restartAt - secondsLeft * 1000, signal);
    await broadcast(d, d.message(secondsLeft));
  }
  await sleepUntil(d, restartAt, signal);
}

async function sleepUntil(d: CountdownDeps, at: number, signal?: AbortSignal): Promise<void> {
  const ms = at - d.clock.now();
  try {
    if (signal?.aborted) throw signal.reason;
    if (ms > 0) await d.clock.sleep(ms, signal);
  } catch {
    await broadcast(d, d.cancelledMessage);
    throw new ReconSyncError('CANCELLED', 'restart cancelled during the countdown; the server was not stopped');
  }
}

async function broadcast(d: CountdownDeps, text: string): Promise<void> {
  const admin = d.admin;
  if (!admin) return;
  try {
    await withTimeout(d.clock, d.broadcastTimeoutMs, 'restart warning broadcast', (s) => admin.broadcast(text, s));
  } catch (err) {
    d.logger.warn({ err, text }, 'restart warning broadcast failed');
  }
}

function formatSeconds(s: number): string {
  if (s >= 60 && s % 60 === 0) return s === 60 ? '1 minute' : `${s / 60} minutes`;
  return s === 1 ? '1 second' : `${s} seconds`;
}
