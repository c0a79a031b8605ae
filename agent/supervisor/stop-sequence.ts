import { ReconSyncError, type Clock } from '../../protocol/index.ts';
import type { Logger } from '../../lib/logger.ts';
import type { Platform, SoftStopResult } from '../platform.ts';
import type { AdminChannel } from '../types.ts';
import type { ProcessHandle } from './launcher.ts';
import { pause, withTimeout } from './timers.ts';
import { errorMessage } from '../../lib/error-message.ts';

export interface StopOutcome {
  /** True when the game exited on its own terms (admin stop or soft signal), so it could save. */
  graceful: boolean;
  message: string;
}

export interface StopSequenceDeps {
  handle: ProcessHandle;
  admin: AdminChannel | null;
  platform: Platform;
  clock: Clock;
  logger: Logger;
  /** Display name of the game, for messages ("Valheim"). */
  gameName: string;
  /** Waiting time for the first graceful method (admin stop, else the soft signal). */
  timeoutMs: number;
  /** Waiting time for the soft signal after the admin channel was tried. */
  softAfterAdminMs: number;
  /** Waiting time after the hard kill before giving up. */
  killWaitMs: number;
}

/**
 * Graceful stop in three steps (design.md §6): save + stop over the admin
 * channel, then the platform's soft stop (SIGINT on Linux; on Windows only a
 * console Ctrl+C helper), then a hard kill. Each step runs only if the game is
 * still alive. Rejects only when even the hard kill leaves it running.
 */
export async function runStopSequence(d: StopSequenceDeps): Promise<StopOutcome> {
  const notes: string[] = [];

  if (d.admin) {
    const admin = d.admin;
    let saved = false;
    try {
      await withTimeout(d.clock, d.timeoutMs, `${admin.kind} save`, (s) => admin.save(s));
      saved = true;
      await withTimeout(d.clock, d.timeoutMs, `${admin.kind} stop`, (s) => admin.stop(s));
      if (await waitExit(d, d.timeoutMs)) return { graceful: true, message: `stopped via ${admin.kind} (save + stop)` };
      notes.push(`${admin.kind} stop was accepted but the game still ran after ${d.timeoutMs} ms`);
    } catch (err) {
      // Some games drop the connection while shutting down: a failed stop after a
      // good save may still be a stop in progress, so give it a short while.
      if (saved && (await waitExit(d, d.softAfterAdminMs))) return { graceful: true, message: `stopped via ${admin.kind} (save + stop)` };
      notes.push(`${admin.kind} ${saved ? 'stop' : 'save'} failed: ${errorMessage(err)}`);
      d.logger.warn({ err }, 'admin channel stop failed; trying the soft stop');
    }
  }

  if (!d.handle.isAlive()) {
    // It went away by itself meanwhile; whether it saved is unknown when the admin channel failed.
    return { graceful: notes.length === 0, message: [...notes, 'the game had already exited'].join('; ') };
  }
  let soft: SoftStopResult;
  try {
    soft = await d.platform.softStop(d.handle.pid);
  } catch (err) {
    soft = { supported: false, message: `soft stop failed: ${errorMessage(err)}` };
  }
  if (soft.supported) {
    const wait = d.admin ? d.softAfterAdminMs : d.timeoutMs;
    if (await waitExit(d, wait)) return { graceful: true, message: [...notes, `stopped with ${soft.message}`].join('; ') };
    notes.push(`${soft.message} did not end it within ${wait} ms`);
  } else if (d.platform.os === 'windows' && !d.admin) {
    notes.push(`hard stop only: ${d.gameName} has no admin channel on Windows and ${soft.message}; progress since the last autosave is lost`);
  } else {
    notes.push(d.platform.os === 'windows' ? `hard stop only on Windows: ${soft.message}` : soft.message);
  }

  d.logger.warn({ pid: d.handle.pid, notes }, 'hard-killing the game process');
  await d.platform.hardKill(d.handle.pid);
  if (!(await waitExit(d, d.killWaitMs))) {
    throw new ReconSyncError('INTERNAL', `process ${d.handle.pid} is still alive ${d.killWaitMs} ms after a hard kill; check it by hand (${notes.join('; ')})`);
  }
  return { graceful: false, message: notes.join('; ') };
}

/** True when the process is gone within `ms`. */
async function waitExit(d: StopSequenceDeps, ms: number): Promise<boolean> {
  if (!d.handle.isAlive()) {
    // The exit event may trail the OS a little; wait for it so the caller sees a settled handle.
    const settle = new AbortController();
    try {
      await Promise.race([d.handle.exited, pause(d.clock, Math.min(ms, 1000), settle.signal)]);
    } finally {
      settle.abort();
    }
    return true;
  }
  const stop = new AbortController();
  try {
    return await Promise.race([d.handle.exited.then(() => true), pause(d.clock, ms, stop.signal).then(() => false)]);
  } finally {
    stop.abort();
  }
}
