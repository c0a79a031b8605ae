import { createLogger } from '../lib/logger.ts';
import { checkHubConfig, hubSecrets } from './config.ts';
import { createHub, type HubExtension } from './hub.ts';

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
  const extensions = [...(opts.extensions ?? [])];
  if (config.discord) {
    const { discordExtension } = await import('./discord-extension.ts');
    extensions.push(discordExtension(config.discord, logger));
  }
  const hub = await createHub({ config, logger, extensions });
  logger.info({ url: hub.url, agentUrl: hub.agentUrl }, 'ReconSync hub ready');

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (sig: NodeJS.Signals) => {
      if (stopping) {
        logger.warn({ signal: sig }, 'second signal: exiting now');
        process.exit(130);
      }
      stopping = true;
      logger.info({ signal: sig }, 'stopping hub');
      const done = (code: number) => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve(code);
      };
      hub.close().then(
        () => done(0),
        (err: unknown) => {
          logger.error({ err }, 'hub did not stop cleanly');
          done(1);
        },
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
