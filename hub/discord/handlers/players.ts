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
  if (online && online.length > 0) {
    description = online.map((p) => `• ${escapeText(p.name)} — ${formatDuration(p.seconds)}`).join('\n');
  } else if (view.players.online > 0) {
    // The game's query gives a count only (see its profile), or names have not arrived yet.
    description = `${view.players.online} online; ${inlineCode(view.game)} does not report player names.`;
  } else {
    description = 'Nobody is on.';
  }
  await i.reply({ embeds: [{ title, description: cut(description, 4000) }] });
}
