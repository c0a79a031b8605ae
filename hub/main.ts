import { createLogger } from '../lib/logger.ts';
import { checkHubConfig, hubSecrets } from './config.ts';
import { startHub, type Hub, type HubExtension } from './hub.ts';
import { STOP_DEADLINE_MS, takeStopSignals } from '../lib/graceful-stop.ts';

/**
 * How long a stopping hub may take before it exits anyway. Stopping closes the
 * links, the HTTP server and the store; what is not yet acknowledged the agents
 * send again. The systemd unit's TimeoutStopSec (30 s) is longer.
 */

export interface RunHubOptions {
  /** Started with the hub (the CLI passes the Discord bot here when discord: is configured). */
  extensions?: HubExtension[];
  env?: NodeJS.ProcessEnv;
}

/**
 * `reconsync hub --config hub.yaml`: load the config, start, stop cleanly on
 * SIGINT/SIGTERM. Resolves with the exit code once the hub has stopped.
 */
export async function runHub(configPath: string, opts: RunHubOptions = {}): Promise<number> {
  // The same checks as `config check` (schema, TLS files): anything it reports, the hub refuses (exit 3).
  const config = checkHubConfig(configPath, opts.env ? { env: opts.env } : {});
  const logger = createLogger({ level: config.logLevel, name: 'reconsync-hub', secrets: hubSecrets(config) });
  // Taken from the first moment: a signal while the store opens or the ports bind stops the hub
  // once it is up instead of killing it half-started, and a close that hangs ends at the deadline.
  const stop = takeStopSignals({ logger, deadlineMs: STOP_DEADLINE_MS, secondSignal: 'exit' });
  let hub: Hub;
  try {
    const extensions = [...(opts.extensions ?? [])];
    if (config.discord) {
      const { discordExtension } = await import('./discord-extension.ts');
      extensions.push(discordExtension(config.discord, logger));
    }
    hub = await startHub({ config, logger, extensions });
  } catch (err) {
    stop.dispose();
    throw err;
  }
  logger.info({ url: hub.url, agentUrl: hub.agentUrl }, 'ReconSync hub ready');
  return stop.serve(async (why) => {
    logger.info({ why }, 'stopping hub');
    await hub.close();
  });
}
