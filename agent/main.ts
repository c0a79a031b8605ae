import { loadAgentConfig } from './config.ts';
import { createLogger } from '../lib/logger.ts';
import { createAgent } from './agent.ts';

/** `reconsync agent --config agent.yaml`: runs until SIGINT/SIGTERM, or until the hub says never to come back. */
export async function runAgent(configPath: string): Promise<number> {
  const config = loadAgentConfig(configPath);
  const logger = createLogger({ level: config.logLevel, name: 'agent' });
  const agent = await createAgent({ config, logger });
  logger.info({ servers: [...agent.units.keys()], hub: config.hub.url }, 'agent started');

  return new Promise<number>((resolve) => {
    let exitCode = 0;
    const shutdown = (why: string) => {
      logger.info({ why }, 'agent stopping');
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      void agent.close().then(() => resolve(exitCode), (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        resolve(1);
      });
    };
    const onSignal = (signal: NodeJS.Signals) => shutdown(signal);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // Replaced (4000), revoked (4001) or a version mismatch: reconnecting cannot help, so exit non-zero for the service manager to show.
    agent.link.on('stopped', (event) => {
      if (event.reason === 'closed') return;
      exitCode = 1;
      shutdown(`link stopped: ${event.reason}`);
    });
  });
}
