import { ActionRowBuilder, ButtonBuilder, ButtonStyle, type ChatInputCommandInteraction } from 'discord.js';
import { confirmIds, type ConfirmAction } from '../confirm.ts';
import type { BotContext } from '../context.ts';
import { describeError } from '../errors.ts';
import { relativeTime } from '../format.ts';

/**
 * Posts a confirm/cancel prompt for a destructive command. Its own module because every
 * command that confirms (stop, restart, restore in actions.ts; update in update.ts) asks
 * the same way, and actions.ts also dispatches the confirmed update: with this in
 * actions.ts the two handler files imported each other.
 */
export async function askConfirm(ctx: BotContext, i: ChatInputCommandInteraction, action: ConfirmAction, prompt: string, yesLabel: string): Promise<void> {
  const p = ctx.confirms.create(i.user.id, action, async () => {
    await i.editReply({ content: `⌛ ${prompt}\nNot confirmed in time; nothing was done.`, components: [] })
      .catch((err: unknown) => ctx.logger.debug({ err: describeError(err) }, 'discord: could not mark a confirmation expired'));
  });
  const ids = confirmIds(p.nonce);
  const row = new ActionRowBuilder<ButtonBuilder>().addComponents(
    new ButtonBuilder().setCustomId(ids.yes).setLabel(yesLabel).setStyle(ButtonStyle.Danger),
    new ButtonBuilder().setCustomId(ids.no).setLabel('Cancel').setStyle(ButtonStyle.Secondary),
  );
  const response = await i.reply({ content: `⚠️ ${prompt}\nOnly <@${i.user.id}> can confirm, until ${relativeTime(p.expiresAt)}.`, components: [row], withResponse: true });
  // The nonce is good on this message only: a custom_id replayed on another message is refused.
  const messageId = response.resource?.message?.id;
  if (messageId) ctx.confirms.bind(p.nonce, messageId);
}
