import type { ButtonInteraction, ChatInputCommandInteraction } from 'discord.js';
import { ReconSyncError, type EventData } from '../../../protocol/index.ts';
import type { ServerView } from '../../service/types.ts';
import { discordActor } from '../audit.ts';
import type { BotContext } from '../context.ts';
import { describeError, userMessage } from '../errors.ts';
import { escapeText, inlineCode, serverLabel as label } from '../format.ts';
import { cut } from '../limits.ts';
import { ReplyEditor } from '../reply-editor.ts';
import { askConfirm } from './ask-confirm.ts';

/** `/server update`: confirm, then the reply follows the agent's update pipeline step by step to its outcome. */

interface Payload { content: string; components?: [] }

const outcomeText = {
  updated: '✅ Updated',
  up_to_date: '✅ Already up to date',
  failed: '❌ Update failed',
  rolled_back: '↩️ Update rolled back',
} as const;

export async function serverUpdateAsk(ctx: BotContext, i: ChatInputCommandInteraction): Promise<void> {
  const s = ctx.service.getServer(i.options.getString('server', true));
  if (!ctx.service.getUpdate) throw new ReconSyncError('NOT_SUPPORTED', 'this hub cannot manage game updates');
  const warn = i.options.getInteger('warn');
  const warnMinutes = warn === null ? undefined : warn === 0 ? [] : [...new Set([warn, 5, 1].filter((m) => m <= warn))].sort((a, b) => b - a);
  const u = s.update;
  const builds = u?.latestBuild && u.available ? ` Build ${inlineCode(u.installedBuild ?? '?')} → ${inlineCode(u.latestBuild)}.` : ' The latest build is looked up first.';
  const players = s.players.online > 0 ? ` ${s.players.online} player(s) online: they are warned first${warnMinutes?.length === 0 ? ' (no warning asked)' : ''}.` : '';
  await askConfirm(ctx, i, { kind: 'update', serverId: s.id, ...(warnMinutes ? { warnMinutes } : {}) },
    `Update ${label(s)}?${builds}${players} The world is backed up first; a build that does not come up is rolled back.`, 'Update');
}

export async function runUpdateConfirmed(ctx: BotContext, b: ButtonInteraction, s: ServerView, warnMinutes: number[] | undefined): Promise<void> {
  const actor = discordActor(b.user);
  const header = `⬆️ Updating ${label(s)}`;
  await b.update({ content: `${header}\n⏳ starting`, components: [] });
  const editor = new ReplyEditor<Payload>((x) => b.editReply(x), ctx.clock, ctx.options.progressEditIntervalMs);
  const steps: string[] = [];
  let settle!: (r: EventData<'update.state'>) => void;
  const outcome = new Promise<EventData<'update.state'>>((resolve) => {
    settle = resolve;
  });
  const onProgress = (p: EventData<'update.progress'>) => {
    if (p.serverId !== s.id) return;
    const line = `• ${p.step}: ${cut(p.message, 200)}${p.percent === null ? '' : ` (${p.percent.toFixed(0)}%)`}`;
    // One line per step; a step's newer message (download percent) replaces its line.
    if (steps.length > 0 && steps.at(-1)!.startsWith(`• ${p.step}:`)) steps[steps.length - 1] = line;
    else steps.push(line);
    editor.progress({ content: `${header}\n${steps.slice(-12).join('\n')}` });
  };
  const onState = (r: EventData<'update.state'>) => {
    if (r.serverId === s.id && r.event === 'outcome') settle(r);
  };
  ctx.service.on('updateProgress', onProgress);
  ctx.service.on('updateState', onState);
  const aborted = new Promise<null>((resolve) => ctx.signal.addEventListener('abort', () => resolve(null), { once: true }));
  try {
    const started = await ctx.service.applyUpdate!(s.id, actor, warnMinutes ? { warnMinutes } : {});
    ctx.audit.record({ actor, action: 'server.update', serverId: s.id, outcome: 'ok', detail: `${started.from ?? '?'} → ${started.to ?? 'latest'}` }, { toService: false });
    const r = await Promise.race([outcome, aborted]);
    if (!r?.last) return;
    const l = r.last;
    await editor.final({ content: `${outcomeText[l.outcome]}: ${label(s)} ${inlineCode(l.from ?? '?')} → ${inlineCode(l.to ?? '?')} (step ${l.step})\n${escapeText(cut(l.message, 1500))}` })
      // A long update (warnings, waiting for players) can outlive the interaction's 15-minute token; the alert channel still gets the outcome.
      .catch((err: unknown) => ctx.logger.warn({ serverId: s.id, err: describeError(err) }, 'discord: could not edit the update reply with its outcome'));
  } catch (err) {
    ctx.audit.record({ actor, action: 'server.update', serverId: s.id, outcome: 'error', detail: err instanceof ReconSyncError ? err.code : 'INTERNAL' }, { toService: false });
    if (!(err instanceof ReconSyncError)) ctx.logger.error({ serverId: s.id, err: describeError(err) }, 'discord: update failed');
    await editor.final({ content: `${header}\n${userMessage(err)}` });
  } finally {
    ctx.service.off('updateProgress', onProgress);
    ctx.service.off('updateState', onState);
  }
}
