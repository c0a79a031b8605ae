import { MessageFlags, type ButtonInteraction } from 'discord.js';
import { discordActor } from '../audit.ts';
import { customIdShape, parseConfirmId, type ConfirmAction } from '../confirm.ts';
import type { BotContext } from '../context.ts';
import { allows, levelOf, memberRoles, type Level } from '../permissions.ts';
import { runConfirmed } from './actions.ts';

const needed = (a: ConfirmAction): { level: Level; action: string } =>
  a.kind === 'restore' ? { level: 'admin', action: 'backup.restore' }
    : a.kind === 'update' ? { level: 'operator', action: 'server.update' }
      : { level: 'operator', action: `server.${a.action}` };

const EXPIRED = '⌛ This confirmation expired or was already answered; run the command again.';

/**
 * Confirm/cancel buttons: only the user who asked, only on the message they
 * were posted on, only while valid, and only with the role still held. Every
 * refused press is audited (who, the custom_id's form, why): forged ids and
 * losing double clicks are exactly what an audit log is for.
 */
export async function onButton(ctx: BotContext, b: ButtonInteraction): Promise<void> {
  const actor = discordActor(b.user);
  const refuse = async (action: string, serverId: string | null, reason: string, answer: string) => {
    ctx.audit.record({ actor, action, serverId, outcome: 'denied', detail: `button ${customIdShape(b.customId)}: ${reason}` }, { toService: true });
    await b.reply({ content: answer, flags: MessageFlags.Ephemeral });
  };
  const parsed = parseConfirmId(b.customId);
  if (!parsed) return refuse('button', null, 'not a ReconSync button', EXPIRED);
  const p = ctx.confirms.peek(parsed.nonce);
  if (!p) return refuse('button', null, ctx.confirms.wasAnswered(parsed.nonce) ? 'already answered' : 'unknown or expired confirmation', EXPIRED);
  const { level, action } = needed(p.action);
  const serverId = p.action.serverId;
  if (p.messageId === null || b.message.id !== p.messageId) return refuse(action, serverId, 'pressed on another message than the one it was posted on', EXPIRED);
  if (b.user.id !== p.userId) return refuse(action, serverId, 'pressed another user\'s confirm button', `🚫 Only <@${p.userId}> can answer this.`);
  if (!allows(levelOf(ctx.config.roles, memberRoles(b)), level)) return refuse(action, serverId, `needs ${level}`, `🚫 This needs the ${level} role.`);
  if (!ctx.confirms.take(parsed.nonce)) return refuse(action, serverId, 'expired while pressed', '⌛ This confirmation expired a moment ago; run the command again.');
  if (parsed.answer === 'no') {
    await b.update({ content: `Cancelled by <@${b.user.id}>; nothing was done.`, components: [] });
    return;
  }
  await runConfirmed(ctx, b, p);
}
