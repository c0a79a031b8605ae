import { createHash } from 'node:crypto';
import {
  ChannelType, InteractionContextType, Routes, SlashCommandBuilder, type SlashCommandStringOption,
  type REST, type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import type { Logger } from '../../lib/logger.ts';
import type { DiscordConfig } from '../config.ts';
import { META_CHANNEL, type DiscordMessageStore } from './message-store.ts';
import type { Level } from './permissions.ts';

/** Who may run what (design.md §7a, fixed). Keyed by "command" or "command subcommand". */
export const commandLevels: Record<string, Level> = {
  status: 'viewer',
  'server start': 'operator',
  'server stop': 'operator',
  'server restart': 'operator',
  'server cancel': 'operator',
  'server update': 'operator',
  'backup create': 'operator',
  'backup list': 'viewer',
  'backup restore': 'admin',
  agents: 'viewer',
  players: 'viewer',
  console: 'admin',
  rcon: 'admin',
  statusboard: 'admin',
};

const serverOption = (required: boolean) => (o: SlashCommandStringOption) =>
  o.setName('server').setDescription('Server id').setRequired(required).setAutocomplete(true).setMaxLength(64);

/** The command set (design.md §7a). Guild-only: roles are guild roles. */
export function commandDefinitions(): RESTPostAPIChatInputApplicationCommandsJSONBody[] {
  const guildOnly = [InteractionContextType.Guild];
  return [
    new SlashCommandBuilder().setName('status').setDescription('Show one server, or all servers').setContexts(guildOnly)
      .addStringOption(serverOption(false)),
    new SlashCommandBuilder().setName('server').setDescription('Start, stop or restart a game server').setContexts(guildOnly)
      .addSubcommand((s) => s.setName('start').setDescription('Start a server').addStringOption(serverOption(true)))
      .addSubcommand((s) => s.setName('stop').setDescription('Stop a server (asks for confirmation)').addStringOption(serverOption(true)))
      .addSubcommand((s) => s.setName('restart').setDescription('Restart a server (asks for confirmation)').addStringOption(serverOption(true))
        .addIntegerOption((o) => o.setName('warn').setDescription('Warn players this many minutes before (then at 5 min, 1 min, 10 s)').setMinValue(1).setMaxValue(60)))
      .addSubcommand((s) => s.setName('cancel').setDescription('Cancel a restart that is still warning players').addStringOption(serverOption(true)))
      .addSubcommand((s) => s.setName('update').setDescription('Update the game through SteamCMD, backup first (asks for confirmation)').addStringOption(serverOption(true))
        .addIntegerOption((o) => o.setName('warn').setDescription('Warn players this many minutes before (default: the server\'s update.warnAt)').setMinValue(0).setMaxValue(60))),
    new SlashCommandBuilder().setName('backup').setDescription('World backups').setContexts(guildOnly)
      .addSubcommand((s) => s.setName('create').setDescription('Back up a server now').addStringOption(serverOption(true))
        .addStringOption((o) => o.setName('note').setDescription('A note kept with the backup').setMaxLength(200)))
      .addSubcommand((s) => s.setName('list').setDescription('List backups, newest first').addStringOption(serverOption(true)))
      .addSubcommand((s) => s.setName('restore').setDescription('Restore a backup (asks for confirmation)').addStringOption(serverOption(true))
        .addStringOption((o) => o.setName('backup').setDescription('Backup id').setRequired(true).setAutocomplete(true).setMaxLength(128))
        .addStringOption((o) => o.setName('path').setDescription('Only this file or folder, as in the backup (e.g. SavedArks/TheIsland.ark); the rest stays').setMaxLength(1000))),
    new SlashCommandBuilder().setName('players').setDescription('Who is on a server, and for how long').setContexts(guildOnly)
      .addStringOption(serverOption(true)),
    new SlashCommandBuilder().setName('console').setDescription('Follow a server\'s console output here for some minutes').setContexts(guildOnly)
      .addStringOption(serverOption(true))
      .addIntegerOption((o) => o.setName('minutes').setDescription('How long to follow (default 5, at most 14); 0 stops').setMinValue(0).setMaxValue(14)),
    new SlashCommandBuilder().setName('agents').setDescription('Agents: online or not, version, last seen').setContexts(guildOnly),
    new SlashCommandBuilder().setName('rcon').setDescription('Run one admin-channel command on a server').setContexts(guildOnly)
      .addStringOption(serverOption(true))
      .addStringOption((o) => o.setName('command').setDescription('The command to run').setRequired(true).setMaxLength(1000)),
    new SlashCommandBuilder().setName('statusboard').setDescription('Post the live status board in a channel, or remove it').setContexts(guildOnly)
      .addChannelOption((o) => o.setName('channel').setDescription('Where to post it').setRequired(true)
        .addChannelTypes(ChannelType.GuildText, ChannelType.GuildAnnouncement))
      .addBooleanOption((o) => o.setName('remove').setDescription('Stop keeping a board in that channel and delete its messages')),
  ].map((b) => b.toJSON());
}

export function commandsHash(defs: unknown): string {
  return createHash('sha256').update(JSON.stringify(defs)).digest('hex');
}

function scopeSlot(config: DiscordConfig): string {
  return `commands:${config.applicationId}:${config.guildId ?? 'global'}`;
}

/**
 * One bulk PUT (guild scope when guildId is set, else global), and only when
 * the set differs from the one registered last time: Discord allows 200
 * command creates per guild per day.
 */
export async function registerCommands(rest: REST, config: DiscordConfig, store: DiscordMessageStore, logger: Logger): Promise<'registered' | 'unchanged'> {
  const defs = commandDefinitions();
  const hash = commandsHash(defs);
  if (store.get(META_CHANNEL, scopeSlot(config)) === hash) return 'unchanged';
  const route = config.guildId
    ? Routes.applicationGuildCommands(config.applicationId, config.guildId)
    : Routes.applicationCommands(config.applicationId);
  await rest.put(route, { body: defs });
  store.set(META_CHANNEL, scopeSlot(config), hash);
  logger.info({ scope: config.guildId ? 'guild' : 'global', commands: defs.length }, 'discord: slash commands registered');
  return 'registered';
}
