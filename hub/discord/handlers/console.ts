import { MessageFlags, type ChatInputCommandInteraction } from 'discord.js';
import { ReconSyncError } from '../../../protocol/index.ts';
import type { BotContext } from '../context.ts';
import { discordActor } from '../audit.ts';

/** Lines shown per edit, and how long a follow may run: an interaction reply can be edited for 15 minutes. */
const TAIL_LINES = 25;
const MAX_MINUTES = 14;
const CONTENT_MAX = 1900;

/** Follows per bot and server: a new /console for the server (or minutes:0) ends the running one. */
const follows = new WeakMap<BotContext, Map<string, AbortController>>();

function render(serverId: string, lines: string[], ended: boolean): string {
  // Backticks cannot close the code block early; the agent already redacted secrets.
  let body = lines.map((l) => l.replaceAll('```', 'ˋˋˋ')).join('\n');
  const head = `🖥️ \`${serverId}\` console${ended ? ' (ended)' : ', following'}\n`;
  const room = CONTENT_MAX - head.length - 8;
  if (body.length > room) body = body.slice(body.length - room);
  return `${head}\`\`\`\n${body || ' '}\n\`\`\``;
}

/**
 * `/console server:<id> [minutes]` (admin): the reply follows the game's
 * log, edited at most every consoleEditIntervalMs and only when it changed,
 * for `minutes` (default 5, at most 14: Discord lets a reply be edited for
 * 15). `minutes:0` ends a running follow.
 */
export async function consoleFollow(ctx: BotContext, i: ChatInputCommandInteraction): Promise<void> {
  const serverId = i.options.getString('server', true);
  const minutes = Math.min(i.options.getInteger('minutes') ?? 5, MAX_MINUTES);
  ctx.service.getServer(serverId);
  const readLog = ctx.service.serverLog?.bind(ctx.service);
  if (!readLog) throw new ReconSyncError('NOT_SUPPORTED', 'this hub cannot read game logs');
  let mine = follows.get(ctx);
  if (!mine) follows.set(ctx, (mine = new Map()));
  const running = mine.get(serverId);
  running?.abort();
  ctx.audit.record({ actor: discordActor(i.user), action: 'server.console', serverId, outcome: 'ok', detail: minutes === 0 ? 'stop' : `${minutes} min` }, { toService: true });
  if (minutes <= 0) {
    await i.reply({ content: running ? `Stopped following the console of \`${serverId}\`.` : `Nothing was following \`${serverId}\`.`, flags: MessageFlags.Ephemeral });
    return;
  }
  const stop = new AbortController();
  mine.set(serverId, stop);
  const signal = AbortSignal.any([stop.signal, ctx.signal]);
  await i.deferReply();
  const until = ctx.clock.now() + minutes * 60_000;
  let shown = '';
  let lines: string[] = [];
  try {
    while (!signal.aborted && ctx.clock.now() < until) {
      lines = (await readLog(serverId, TAIL_LINES)).lines;
      const text = render(serverId, lines, false);
      if (text !== shown) {
        await i.editReply({ content: text });
        shown = text;
      }
      await ctx.clock.sleep(Math.min(ctx.options.consoleEditIntervalMs, Math.max(0, until - ctx.clock.now())), signal).catch(() => undefined);
    }
  } finally {
    if (mine.get(serverId) === stop) mine.delete(serverId);
    // Said once at the end, also when the log could not be read (the error is shown by the caller).
    await i.editReply({ content: render(serverId, lines, true) }).catch(() => undefined);
  }
}
