import { MessageFlags, type ChatInputCommandInteraction } from 'discord.js';
import { ReconSyncError } from '../../../protocol/index.ts';
import { discordActor } from '../audit.ts';
import type { BotContext } from '../context.ts';
import { boardRefusalText } from '../board.ts';
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

/**
 * /statusboard posts first and answers with what Discord said: a channel the
 * bot may not write to is reported with the fix, not claimed as done.
 * `remove:true` drops a board (and its messages).
 */
export async function statusboard(ctx: BotContext, i: ChatInputCommandInteraction): Promise<void> {
  const channelId = cut(String(i.options.get('channel', true).value ?? ''), 32);
  const actor = discordActor(i.user);
  // Posting several pages can take longer than Discord's 3 s.
  await i.deferReply({ flags: MessageFlags.Ephemeral });
  if (i.options.getBoolean('remove')) {
    const r = await ctx.boards.remove(channelId);
    ctx.audit.record({ actor, action: 'statusboard.remove', serverId: null, outcome: r.removed ? 'ok' : 'error', detail: `channel ${channelId}` }, { toService: true });
    const configured = r.configured ? ' It is also `discord.statusChannelId` in hub.yaml: remove it there, or it comes back when the hub restarts.' : '';
    await i.editReply({ content: r.removed ? `🗑️ The status board in <#${channelId}> is removed; the bot no longer edits it.${configured}` : `<#${channelId}> has no status board; nothing to remove.` });
    return;
  }
  const r = await ctx.boards.add(channelId);
  if (!r.ok) {
    ctx.audit.record({ actor, action: 'statusboard', serverId: null, outcome: 'error', detail: `channel ${channelId}: ${r.refusal.status} ${r.refusal.code}` }, { toService: true });
    await i.editReply({ content: `❌ ${boardRefusalText(channelId, r.refusal, `Cannot post the status board in <#${channelId}>`)}` });
    return;
  }
  ctx.audit.record({ actor, action: 'statusboard', serverId: null, outcome: 'ok', detail: `channel ${channelId}` }, { toService: true });
  const pending = r.pending ? ` Not every page could be written yet (${cut(r.pending, 200)}); the bot keeps trying.` : '';
  const text = r.existed ? `📋 The status board in <#${channelId}> was refreshed (${r.pages} message(s)).` : `📋 Status board posted in <#${channelId}> (${r.pages} message(s)); it is kept up to date there.`;
  await i.editReply({ content: text + pending });
}
