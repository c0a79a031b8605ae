import path from 'node:path';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { Platform } from './platform.ts';
import { ReconSyncError } from '../protocol/index.ts';

/**
 * `<dataDir>/run/agent.pid` holds "<pid> <start time>" of the agent process that
 * runs on this dataDir. `reconsync agent stop-games` reads it: while an agent
 * runs, it would take a game that exits for a crash and start it again. The
 * start time (when the platform knows it) keeps a reused pid from passing for
 * the agent after an unclean exit left the file behind.
 */
export function agentPidFile(dataDir: string): string {
  return path.join(dataDir, 'run', 'agent.pid');
}

export async function writeAgentPid(dataDir: string, platform: Platform, pid: number = process.pid): Promise<void> {
  const file = agentPidFile(dataDir);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${pid} ${platform.processStartTime(pid) ?? '-'}\n`);
}

/**
 * Takes the dataDir for this process before anything in it is touched: a second
 * agent on the same dataDir would adopt the same games, sweep the other's
 * backups in progress and append to the same outbox. Refused (BUSY, naming
 * the other pid) while the agent named in the pid file is alive; a file left by
 * an agent that is gone is taken over.
 */
export async function claimAgentPid(dataDir: string, platform: Platform, pid: number = process.pid): Promise<void> {
  const file = agentPidFile(dataDir);
  await mkdir(path.dirname(file), { recursive: true });
  const line = `${pid} ${platform.processStartTime(pid) ?? '-'}\n`;
  // Created exclusively: of two agents starting at the same moment, one gets the file and the other finds it.
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(file, line, { flag: 'wx' });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const other = await runningAgent(dataDir, platform);
    if (other !== null) {
      throw new ReconSyncError('BUSY', `another agent (pid ${other}) already runs on dataDir ${dataDir} (${file}); stop it first, or give this agent its own dataDir`);
    }
    await rm(file, { force: true }); // left by an agent that is gone
  }
  throw new ReconSyncError('BUSY', `another agent is starting on dataDir ${dataDir} (${file} keeps coming back); stop it first, or give this agent its own dataDir`);
}

/** Removes the file if it still names `pid` (a newer agent may have replaced it). */
export async function removeAgentPid(dataDir: string, pid: number = process.pid): Promise<void> {
  const file = agentPidFile(dataDir);
  const text = await readFile(file, 'utf8').catch(() => '');
  if (text.split(/\s+/)[0] === String(pid)) await rm(file, { force: true });
}

/** The pid of another live agent on this dataDir, or null. */
export async function runningAgent(dataDir: string, platform: Platform): Promise<number | null> {
  const text = await readFile(agentPidFile(dataDir), 'utf8').catch(() => '');
  const [pidText = '', started = '-'] = text.trim().split(/\s+/);
  if (!/^\d+$/.test(pidText)) return null;
  const pid = Number(pidText);
  if (pid === process.pid || !platform.isAlive(pid)) return null;
  const now = platform.processStartTime(pid);
  if (started !== '-' && now !== null && now !== started) return null;
  return pid;
}
