import { MessageFlags, type ButtonInteraction } from 'discord.js';
import { discordActor } from '../audit.ts';
import { parseConfirmId, type ConfirmAction } from '../confirm.ts';
import type { BotContext } from '../context.ts';
import { allows, levelOf, memberRoles, type Level } from '../permissions.ts';
import { runConfirmed } from './actions.ts';

const needed = (a: ConfirmAction): { level: Level; action: string } =>
  a.kind === 'restore' ? { level: 'admin', action: 'backup.restore' } : { level: 'operator', action: `server.${a.action}` };

/** Confirm/cancel buttons: only the user who asked, only while it is valid, and only with the role still held. */
export async function onButton(ctx: BotContext, b: ButtonInteraction): Promise<void> {
  const parsed = parseConfirmId(b.customId);
  const p = parsed ? ctx.confirms.peek(parsed.nonce) : null;
  if (!parsed || !p) {
    await b.reply({ content: '⌛ This confirmation expired or was already answered; run the command again.', flags: MessageFlags.Ephemeral });
    return;
  }
  const { level, action } = needed(p.action);
  const actor = discordActor(b.user);
  if (b.user.id !== p.userId) {
    ctx.audit.record({ actor, action, serverId: p.action.serverId, outcome: 'denied', detail: 'pressed another user\'s confirm button' }, { toService: true });
    await b.reply({ content: `🚫 Only <@${p.userId}> can answer this.`, flags: MessageFlags.Ephemeral });
    return;
  }
  if (!allows(levelOf(ctx.config.roles, memberRoles(b)), level)) {
    ctx.audit.record({ actor, action, serverId: p.action.serverId, outcome: 'denied', detail: `needs ${level}` }, { toService: true });
    await b.reply({ content: `🚫 This needs the ${level} role.`, flags: MessageFlags.Ephemeral });
    return;
  }
  if (!ctx.confirms.take(parsed.nonce)) {
    await b.reply({ content: '⌛ This confirmation expired a moment ago; run the command again.', flags: MessageFlags.Ephemeral });
    return;
  }
  if (parsed.answer === 'no') {
    await b.update({ content: `Cancelled by <@${b.user.id}>; nothing was done.`, components: [] });
    return;
  }
  await runConfirmed(ctx, b, p);
}
