import { rm } from 'node:fs/promises';
import { ReconSyncError, systemClock, type Clock } from '../protocol/index.ts';
import { silentLogger, type Logger } from '../lib/logger.ts';
import type { AgentConfig } from './config.ts';
import type { ResolvedServer } from './types.ts';
import { resolveAgentServers } from './resolve-servers.ts';
import { createPlatform, type Platform } from './platform.ts';
import { createAdminChannel } from './monitors/admin/index.ts';
import { DefaultSupervisorOptions, ProcessLauncher, launcherPaths } from './supervisor/index.ts';
import { runStopSequence } from './supervisor/stop-sequence.ts';
import { runningAgent } from './agent-pid.ts';
import { errorMessage } from '../lib/error-message.ts';

/**
 * `reconsync agent stop-games`: the host is going down. Every managed game that
 * runs is stopped the way an operator's stop does it (admin-channel save + stop,
 * then the soft signal, then a hard kill after the server's stop.timeoutMs), all
 * at once, since a shutdown has a time budget. Unlike an operator's stop nothing
 * is recorded in the intent store: the games come back on the next boot.
 *
 * It runs after the agent stopped (the systemd shutdown unit is ordered so): a
 * running agent would take each exit for a crash and start the game again.
 */
export interface StopGamesDeps {
  config: AgentConfig;
  logger?: Logger;
  clock?: Clock;
  platform?: Platform;
  servers?: ResolvedServer[];
  /** How long to wait for a running agent on the same dataDir to exit first. */
  agentExitWaitMs?: number;
}

export const DefaultStopGamesOptions = {
  // The agent unit's stop and this hook may be asked at the same moment; the agent needs seconds.
  agentExitWaitMs: 15_000,
  agentPollMs: 200,
} as const;

export interface GameStopReport {
  serverId: string;
  outcome: 'not_running' | 'stopped' | 'hard_stopped' | 'failed';
  message: string;
}

export async function stopGames(deps: StopGamesDeps): Promise<GameStopReport[]> {
  const { config } = deps;
  const clock = deps.clock ?? systemClock;
  const logger = (deps.logger ?? silentLogger).child({ agentId: config.id });
  const platform = deps.platform ?? createPlatform();
  const servers = deps.servers ?? resolveAgentServers(config, platform.os);

  const waitMs = deps.agentExitWaitMs ?? DefaultStopGamesOptions.agentExitWaitMs;
  const deadline = clock.now() + waitMs;
  let agentPid = await runningAgent(config.dataDir, platform);
  while (agentPid !== null && clock.now() < deadline) {
    await clock.sleep(DefaultStopGamesOptions.agentPollMs);
    agentPid = await runningAgent(config.dataDir, platform);
  }
  if (agentPid !== null) {
    throw new ReconSyncError('BUSY', `an agent (pid ${agentPid}) still runs on ${config.dataDir}; it would restart the games this stops. Stop it first (${platform.os === 'windows' ? 'Stop-Service ReconSyncAgent' : 'systemctl stop reconsync-agent'}), then run stop-games again`);
  }

  const managed = servers.filter((s) => s.managed && s.start !== null);
  return Promise.all(managed.map((server) => stopOne(server, { config, clock, platform, logger: logger.child({ serverId: server.id }) })));
}

async function stopOne(server: ResolvedServer, d: { config: AgentConfig; clock: Clock; platform: Platform; logger: Logger }): Promise<GameStopReport> {
  const launcher = new ProcessLauncher({ platform: d.platform, dataDir: d.config.dataDir, clock: d.clock, logger: d.logger });
  const handle = await launcher.adopt(server).catch((err: unknown) => {
    d.logger.warn({ err }, 'looking for the running game failed');
    return null;
  });
  if (!handle) return { serverId: server.id, outcome: 'not_running', message: 'no running game process found' };
  const admin = createAdminChannel(server, { logger: d.logger });
  try {
    d.logger.info({ pid: handle.pid }, 'stopping the game for a host shutdown');
    const outcome = await runStopSequence({
      handle, admin, platform: d.platform, clock: d.clock, logger: d.logger,
      gameName: server.profile.name,
      timeoutMs: server.config.stop.timeoutMs,
      softAfterAdminMs: DefaultSupervisorOptions.softStopAfterAdminMs,
      killWaitMs: DefaultSupervisorOptions.killWaitMs,
    });
    // Gone: the next boot must not take a reused pid for the game.
    await rm(launcherPaths(d.config.dataDir, server.id).pidFile, { force: true });
    return { serverId: server.id, outcome: outcome.graceful ? 'stopped' : 'hard_stopped', message: outcome.message };
  } catch (err) {
    d.logger.error({ err }, 'could not stop the game');
    return { serverId: server.id, outcome: 'failed', message: errorMessage(err) };
  } finally {
    handle.release();
    await admin?.close().catch(() => undefined);
  }
}
