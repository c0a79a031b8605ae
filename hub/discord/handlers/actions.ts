import type { APIEmbed, ButtonInteraction, ChatInputCommandInteraction } from 'discord.js';
import { ReconSyncError, type BackupProgress } from '../../../protocol/index.ts';
import type { Actor, ServerAction, ServerView } from '../../service/types.ts';
import { discordActor } from '../audit.ts';
import type { PendingConfirm } from '../confirm.ts';
import type { BotContext } from '../context.ts';
import { describeError, userMessage } from '../errors.ts';
import { escapeText, formatBytes, inlineCode, relativeTime, serverLabel as label } from '../format.ts';
import { cut } from '../limits.ts';
import { backupResultEmbed, progressLine } from '../render.ts';
import { ReplyEditor } from '../reply-editor.ts';
import { askConfirm } from './ask-confirm.ts';
import { runUpdateConfirmed } from './update.ts';

/** Commands that reach an agent: they defer (or confirm first) and edit the reply with the outcome. */

interface Payload {
  content: string;
  embeds?: APIEmbed[];
  components?: [];
}
type Edit = (p: Payload) => Promise<unknown>;

const verbing: Record<ServerAction, string> = { start: 'Starting', stop: 'Stopping', restart: 'Restarting' };
const done: Record<ServerAction, string> = { start: 'started', stop: 'stopped', restart: 'restarted' };

function auditOutcome(ctx: BotContext, actor: Actor, action: string, serverId: string, err: unknown | null, detail: string | null = null): void {
  const outcome = err === null ? 'ok' : 'error';
  const d = err === null ? detail : err instanceof ReconSyncError ? err.code : 'INTERNAL';
  // The service already wrote its audit entry; this only mirrors to the audit channel.
  ctx.audit.record({ actor, action, serverId, outcome, detail: d }, { toService: false });
  if (err !== null && !(err instanceof ReconSyncError)) ctx.logger.error({ serverId, action, err: describeError(err) }, 'discord: action failed');
}

async function runServerAction(ctx: BotContext, actor: Actor, s: ServerView, action: ServerAction, edit: Edit, warnAt?: number[]): Promise<void> {
  let result: Awaited<ReturnType<BotContext['service']['serverAction']>>;
  try {
    result = await ctx.service.serverAction(s.id, action, actor, { signal: ctx.signal, ...(warnAt?.length ? { warnAt } : {}) });
  } catch (err) {
    auditOutcome(ctx, actor, `server.${action}`, s.id, err);
    await edit({ content: `${verbing[action]} ${label(s)}\n${userMessage(err)}`, components: [] });
    return;
  }
  auditOutcome(ctx, actor, `server.${action}`, s.id, null, result.state);
  const forced = result.graceful === false ? ' It did not stop gracefully and was killed.' : '';
  const note = result.message ? `\n${escapeText(cut(result.message, 500))}` : '';
  await edit({ content: `✅ ${label(s)} ${done[action]}; state: ${result.state}.${forced}${note}`, components: [] });
}

/** Runs a backup or restore while mirroring the agent's progress events into the reply. */
async function withProgress<T>(ctx: BotContext, serverId: string, editor: ReplyEditor<Payload>, header: string, fn: () => Promise<T>): Promise<T> {
  const onProgress = (p: BackupProgress & { agentId: string }) => {
    if (p.serverId === serverId) editor.progress({ content: `${header}\n${progressLine(p)}`, embeds: [] });
  };
  ctx.service.on('backupProgress', onProgress);
  editor.progress({ content: `${header}\n⏳ started`, embeds: [] });
  try {
    return await fn();
  } finally {
    ctx.service.off('backupProgress', onProgress);
  }
}

export async function serverStart(ctx: BotContext, i: ChatInputCommandInteraction): Promise<void> {
  const s = ctx.service.getServer(i.options.getString('server', true));
  await i.deferReply();
  await runServerAction(ctx, discordActor(i.user), s, 'start', (p) => i.editReply(p));
}

/** Warning times for a restart `minutes` from now: that moment, then 5 min, 1 min and 10 s before. */
export function restartWarnings(minutes: number | null): number[] {
  if (!minutes) return [];
  const first = minutes * 60;
  return [...new Set([first, 300, 60, 10].filter((s) => s <= first))].sort((a, b) => b - a);
}

export async function serverStopOrRestart(ctx: BotContext, i: ChatInputCommandInteraction, action: 'stop' | 'restart'): Promise<void> {
  const s = ctx.service.getServer(i.options.getString('server', true));
  const players = s.players.online > 0 ? ` ${s.players.online} player(s) online.` : '';
  const warnAt = action === 'restart' ? restartWarnings(i.options.getInteger('warn')) : [];
  const when = warnAt.length ? ` Players are warned ${warnAt[0]! >= 60 ? `${Math.round(warnAt[0]! / 60)} min` : `${warnAt[0]} s`} before; \`/server cancel\` stops the countdown.` : '';
  await askConfirm(ctx, i, { kind: 'server', action, serverId: s.id, ...(warnAt.length ? { warnAt } : {}) }, `${action === 'stop' ? 'Stop' : 'Restart'} ${label(s)}?${players}${when}`, action === 'stop' ? 'Stop' : 'Restart');
}

export async function serverCancelRestart(ctx: BotContext, i: ChatInputCommandInteraction): Promise<void> {
  const s = ctx.service.getServer(i.options.getString('server', true));
  const r = await ctx.service.cancelRestart(s.id, discordActor(i.user));
  await i.reply({ content: r.cancelled ? `🛑 Restart of ${label(s)} cancelled; players were told.` : `Nothing to cancel: ${label(s)} has no restart counting down.` });
}

export async function backupRestoreAsk(ctx: BotContext, i: ChatInputCommandInteraction): Promise<void> {
  const s = ctx.service.getServer(i.options.getString('server', true));
  const backupId = i.options.getString('backup', true);
  const b = ctx.service.listBackups(s.id).find((x) => x.id === backupId);
  if (!b) throw new ReconSyncError('UNKNOWN_BACKUP', `No backup ${cut(backupId, 130)} for ${s.id}; list them with /backup list.`);
  // One file or folder (partial restore): the rest of the world stays as it is now.
  const path = i.options.getString('path') ?? undefined;
  const what = path === undefined ? 'backup' : `${inlineCode(cut(path, 200))} from backup`;
  const prompt = `Restore ${what} ${inlineCode(b.id)} (${relativeTime(Date.parse(b.createdAt))}, ${formatBytes(b.size)}) on ${label(s)}? `
    + 'The server is stopped and its current world kept as a pre-restore backup.';
  await askConfirm(ctx, i, { kind: 'restore', serverId: s.id, backupId: b.id, ...(path !== undefined ? { paths: [path] } : {}) }, prompt, 'Restore');
}

export async function backupCreate(ctx: BotContext, i: ChatInputCommandInteraction): Promise<void> {
  const s = ctx.service.getServer(i.options.getString('server', true));
  const note = i.options.getString('note') ?? undefined;
  const actor = discordActor(i.user);
  await i.deferReply();
  const header = `💾 Backing up ${label(s)}`;
  const editor = new ReplyEditor<Payload>((p) => i.editReply(p), ctx.clock, ctx.options.progressEditIntervalMs);
  try {
    const rec = await withProgress(ctx, s.id, editor, header, () => ctx.service.createBackup(s.id, actor, { note, signal: ctx.signal }));
    auditOutcome(ctx, actor, 'backup.create', s.id, null, rec.id);
    await editor.final({ content: '', embeds: [backupResultEmbed(rec)] });
  } catch (err) {
    auditOutcome(ctx, actor, 'backup.create', s.id, err);
    await editor.final({ content: `${header}\n${userMessage(err)}`, embeds: [] });
  }
}

/** A confirmed stop, restart or restore: the button's message becomes the progress and result. */
export async function runConfirmed(ctx: BotContext, b: ButtonInteraction, p: PendingConfirm): Promise<void> {
  const actor = discordActor(b.user);
  const s = ctx.service.getServer(p.action.serverId);
  if (p.action.kind === 'server') {
    const action = p.action.action;
    await b.update({ content: `⏳ ${verbing[action]} ${label(s)}…`, components: [] });
    await runServerAction(ctx, actor, s, action, (x) => b.editReply(x), p.action.warnAt);
    return;
  }
  if (p.action.kind === 'update') {
    await runUpdateConfirmed(ctx, b, s, p.action.warnMinutes);
    return;
  }
  const { backupId, paths } = p.action;
  const header = `♻️ Restoring ${paths ? `${inlineCode(cut(paths[0]!, 200))} from ` : ''}${inlineCode(backupId)} on ${label(s)}`;
  await b.update({ content: `${header}\n⏳ starting`, components: [] });
  const editor = new ReplyEditor<Payload>((x) => b.editReply(x), ctx.clock, ctx.options.progressEditIntervalMs);
  try {
    const r = await withProgress(ctx, s.id, editor, header, () => ctx.service.restoreBackup(s.id, backupId, actor, { signal: ctx.signal, ...(paths ? { paths } : {}) }));
    auditOutcome(ctx, actor, 'backup.restore', s.id, null, backupId);
    const pre = r.preRestoreBackupId ? ` The world from before is kept as backup ${inlineCode(r.preRestoreBackupId)}.` : '';
    await editor.final({ content: `✅ Restored ${inlineCode(r.backupId)} on ${label(s)} from ${escapeText(r.from)}.${pre}`, embeds: [] });
  } catch (err) {
    auditOutcome(ctx, actor, 'backup.restore', s.id, err);
    await editor.final({ content: `${header}\n${userMessage(err)}`, embeds: [] });
  }
}
