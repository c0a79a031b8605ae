import type { Logger } from '../lib/logger.ts';
import type { DiscordConfig } from './config.ts';
import type { HubExtension } from './hub.ts';
import { startDiscordBot } from './discord/bot.ts';

/** Starts the Discord bot beside a hub: its message ids live in the hub's store, its commands go through the hub's service. */
export function discordExtension(config: DiscordConfig, logger: Logger): HubExtension {
  return async (hub) => {
    const messages = hub.store.discordMessages;
    return startDiscordBot({
      config,
      service: hub.service,
      metrics: hub.metrics,
      activity: { players: (id) => hub.players.online(id), subscribe: (l) => hub.events.subscribe(l) },
      logger, // the bot adds its own component binding
      store: {
        get: (channelId, slot) => messages.get(channelId, slot),
        set: (channelId, slot, messageId) => messages.set(channelId, slot, messageId),
        delete: (channelId, slot) => messages.remove(channelId, slot),
      },
    });
  };
}
