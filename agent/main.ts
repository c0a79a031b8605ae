import { agentSecrets, loadAgentConfig } from './config.ts';
import { checkAgentConfig } from './check.ts';
import { createLogger } from '../lib/logger.ts';
import { createAgent, type Agent } from './agent.ts';
import { createPlatform } from './platform.ts';
import { claimAgentPid, removeAgentPid } from './agent-pid.ts';
import { stopGames } from './stop-games.ts';
import { resourceSamplerWarning } from './monitors/resources.ts';
import { STOP_DEADLINE_MS, takeStopSignals } from '../lib/graceful-stop.ts';

/**
 * How long a stopping agent may take. Games run outside the agent (see
 * launcher.ts), so stopping it only ends its own work: backups are aborted
 * (their leftovers are swept at the next start), the outbox is flushed, the
 * link closed. A service manager waits for this, so it must stay short; the
 * systemd unit's TimeoutStopSec is a little longer.
 */

/**
 * `reconsync agent --config agent.yaml`: runs until SIGINT/SIGTERM, or until the
 * hub says never to come back. Either way the agent exits within seconds and
 * leaves its games running; the next agent adopts them. Stopping the games is
 * `reconsync agent stop-games` (host shutdown) or an operator's stop.
 */
export async function runAgent(configPath: string): Promise<number> {
  // The same checks as `config check`: anything it reports, the agent refuses (ConfigError → exit 3).
  const { config, servers } = await checkAgentConfig(configPath);
  const logger = createLogger({ level: config.logLevel, name: 'agent', secrets: agentSecrets(config) });

  // Taken from the first moment: a signal during start stops the agent once it is up (lib/graceful-stop.ts).
  const stop = takeStopSignals({ logger, deadlineMs: STOP_DEADLINE_MS, secondSignal: 'ignore' });
  const platform = createPlatform();
  let agent: Agent;
  try {
    await claimAgentPid(config.dataDir, platform);
  } catch (err) {
    stop.dispose();
    throw err;
  }
  try {
    agent = await createAgent({ config, logger, platform, servers });
  } catch (err) {
    stop.dispose();
    await removeAgentPid(config.dataDir);
    throw err;
  }
  logger.info({ servers: [...agent.units.keys()], hub: config.hub.url }, 'agent started');
  const samplerWarning = resourceSamplerWarning();
  if (samplerWarning) logger.warn(samplerWarning);

  // Replaced (4000), revoked (4001) or a version mismatch: reconnecting cannot help, so exit non-zero for the service manager to show.
  const onLinkStopped = (event: { reason: string }) => {
    if (event.reason === 'closed') return;
    stop.request(`link stopped: ${event.reason}`, 1);
  };
  agent.link.on('stopped', onLinkStopped);
  // It may have given up while the agent was still starting (e.g. a revoked token at the first dial).
  if (agent.linkStopped) onLinkStopped(agent.linkStopped);
  // A stop that hangs (a backup step that ignores its abort signal) ends at the deadline:
  // everything the agent leaves half-done is swept at its next start.
  return stop.serve(async (why) => {
    logger.info({ why }, 'agent stopping; managed games keep running');
    await agent.close();
    await removeAgentPid(config.dataDir);
  });
}

/**
 * `reconsync agent stop-games --config agent.yaml`: the host shutdown hook.
 * Stops every managed game gracefully (save, stop) without recording an
 * operator stop, so they start again with the next agent. Exit 0 when every
 * game is down (1 if one could not be stopped at all).
 */
export async function runStopGames(configPath: string): Promise<number> {
  const config = loadAgentConfig(configPath);
  const logger = createLogger({ level: config.logLevel, name: 'agent', secrets: agentSecrets(config) });
  const reports = await stopGames({ config, logger });
  for (const r of reports) process.stdout.write(`${r.serverId}: ${r.outcome.replace('_', ' ')}${r.message ? ` (${r.message})` : ''}\n`);
  if (reports.length === 0) process.stdout.write('no managed game servers in this config\n');
  return reports.some((r) => r.outcome === 'failed') ? 1 : 0;
}
