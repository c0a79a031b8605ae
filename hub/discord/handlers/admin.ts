import { MessageFlags, type ChatInputCommandInteraction } from 'discord.js';
import { ReconSyncError } from '../../../protocol/index.ts';
import { discordActor } from '../audit.ts';
import type { BotContext } from '../context.ts';
import { userMessage } from '../errors.ts';
import { inlineCode } from '../format.ts';
import { codeBlock, cut, DiscordLimits } from '../limits.ts';

/**
 * /rcon: output can name players and their addresses, so the answer is
 * ephemeral; the audit channel gets only the command's first word (arguments
 * may hold secrets, e.g. a new password).
 */
export async function rcon(ctx: BotContext, i: ChatInputCommandInteraction): Promise<void> {
  const serverId = i.options.getString('server', true);
  const command = i.options.getString('command', true);
  ctx.service.getServer(serverId);
  const actor = discordActor(i.user);
  await i.deferReply({ flags: MessageFlags.Ephemeral });
  const header = `🖥️ ${inlineCode(serverId)} › ${inlineCode(cut(command, 200))}\n`;
  const verb = command.trim().split(/\s+/)[0] ?? '';
  try {
    const { output } = await ctx.service.rcon(serverId, command, actor);
    ctx.audit.record({ actor, action: 'rcon', serverId, outcome: 'ok', detail: cut(verb, 50) }, { toService: false });
    await i.editReply({ content: header + codeBlock(output.trim() || '(no output)', DiscordLimits.content - header.length) });
  } catch (err) {
    ctx.audit.record({ actor, action: 'rcon', serverId, outcome: 'error', detail: err instanceof ReconSyncError ? err.code : 'INTERNAL' }, { toService: false });
    await i.editReply({ content: header + userMessage(err) });
  }
}

export async function statusboard(ctx: BotContext, i: ChatInputCommandInteraction): Promise<void> {
  const channelId = String(i.options.get('channel', true).value ?? '');
  const existed = ctx.boards.has(channelId);
  ctx.boards.add(channelId);
  ctx.audit.record({ actor: discordActor(i.user), action: 'statusboard', serverId: null, outcome: 'ok', detail: `channel ${channelId}` }, { toService: true });
  const text = existed ? `📋 <#${channelId}> already has the status board; it was refreshed.` : `📋 Status board posted in <#${channelId}>; it is kept up to date there.`;
  await i.reply({ content: text, flags: MessageFlags.Ephemeral });
}
