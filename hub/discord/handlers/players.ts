import type { ChatInputCommandInteraction } from 'discord.js';
import { formatDuration } from '../../events/players.ts';
import type { BotContext } from '../context.ts';
import { escapeText, inlineCode } from '../format.ts';
import { cut } from '../limits.ts';

/** `/players server:<id>` (viewer): who is on and for how long, from the hub's player tracking. */
export async function players(ctx: BotContext, i: ChatInputCommandInteraction): Promise<void> {
  const serverId = i.options.getString('server', true);
  const view = ctx.service.getServer(serverId); // UNKNOWN_SERVER with its hint
  const online = ctx.players?.(serverId) ?? null;
  const title = `Players on ${escapeText(view.name)} (${view.players.online}/${view.players.max})`;
  let description: string;
  if (view.playerDetail === 'counts') {
    // The profile says the game's status has no names: say so rather than "nobody" or a list that cannot come.
    description = `${view.players.online} online; ${inlineCode(view.game)} reports player counts only, not names.`;
  } else if (online && online.length > 0) {
    description = online.map((p) => `• ${escapeText(p.name)} — ${formatDuration(p.seconds)}`).join('\n');
  } else if (view.players.online > 0) {
    // Names may be blank for some players (ARK), or not arrived yet, or an older agent did not say.
    description = `${view.players.online} online; ${inlineCode(view.game)} did not report their names.`;
  } else {
    description = 'Nobody is on.';
  }
  await i.reply({ embeds: [{ title, description: cut(description, 4000) }] });
}
