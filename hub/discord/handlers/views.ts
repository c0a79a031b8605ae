import type { ChatInputCommandInteraction } from 'discord.js';
import type { BotContext } from '../context.ts';
import { agentsEmbed, backupListEmbed, serverEmbed, statusListEmbed } from '../render.ts';

/** Read-only commands: answered straight from the hub's cache, no agent round trip, so no defer. */

export async function status(ctx: BotContext, i: ChatInputCommandInteraction): Promise<void> {
  const id = i.options.getString('server');
  const embed = id ? serverEmbed(ctx.service.getServer(id), { withPlayers: true }) : statusListEmbed(ctx.service.listServers());
  await i.reply({ embeds: [embed] });
}

export async function agents(ctx: BotContext, i: ChatInputCommandInteraction): Promise<void> {
  await i.reply({ embeds: [agentsEmbed(ctx.service.listAgents())] });
}

export async function backupList(ctx: BotContext, i: ChatInputCommandInteraction): Promise<void> {
  const serverId = i.options.getString('server', true);
  ctx.service.getServer(serverId); // UNKNOWN_SERVER with its hint
  await i.reply({ embeds: [backupListEmbed(serverId, ctx.service.listBackups(serverId))] });
}
