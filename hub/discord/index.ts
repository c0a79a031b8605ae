export { startDiscordBot, type DiscordBot, type DiscordBotDeps, type DiscordBotStats } from './bot.ts';
export { META_CHANNEL, MemoryMessageStore, type DiscordMessageStore } from './message-store.ts';
export { DefaultDiscordBotOptions, type DiscordBotOptions } from './options.ts';
export type { DiscordMetrics } from './poster.ts';
export { commandDefinitions, commandLevels } from './commands.ts';
