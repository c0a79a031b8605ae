import { DiscordAPIError, MessageFlags, Routes, type APIThreadChannel, type ChatInputCommandInteraction } from 'discord.js';
import { ReconSyncError } from '../../../protocol/index.ts';
import type { BotContext } from '../context.ts';
import { discordActor } from '../audit.ts';
import { apiCode, DiscordCode } from '../errors.ts';
import { fenceSafe, newLines, takeMessage } from '../log-follow.ts';

/** Lines read per poll (the overlap with the previous read finds the new ones), and shown in the reply-only fallback. */
const TAIL_LINES = 100;
const REPLY_LINES = 25;
/** Lines posted when the thread opens: some context, not the whole tail. */
const FIRST_LINES = 20;
/** The command's limit (commands.ts): the fallback edits the reply, which Discord allows for 15 minutes. */
const MAX_MINUTES = 14;
/** Under Discord's 2000, with room for a note line. */
const CONTENT_MAX = 1900;
/** Thread messages per poll: with one poll per consoleEditIntervalMs (3 s) that stays under Discord's 5 per 5 s per channel. */
const POSTS_PER_POLL = 2;
/** Lines waiting to be posted; a log faster than that loses its oldest lines (and says how many). */
const MAX_PENDING = 400;
/** Discord's shortest auto-archive; the follow archives the thread itself when it ends. */
const AUTO_ARCHIVE_MINUTES = 60;

/** Follows per bot and server: a new /console for the server (or minutes:0) ends the running one. */
const follows = new WeakMap<BotContext, Map<string, AbortController>>();

type ReadLog = (serverId: string, lines: number) => Promise<{ lines: string[] }>;
interface Follow { ctx: BotContext; i: ChatInputCommandInteraction; serverId: string; readLog: ReadLog; until: number; signal: AbortSignal }

/** Game output is never allowed to ping anyone. */
const noMentions = { parse: [] } as const;

/**
 * `/console server:<id> [minutes]` (admin): opens a thread from its reply and
 * posts the game's new log lines there in batches, at most POSTS_PER_POLL
 * messages every consoleEditIntervalMs, for `minutes` (default 5); then the
 * thread is archived. `minutes:0` ends a running follow. A bot that may not
 * create threads (403) follows in its own reply instead, edited only on change.
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
  const f: Follow = { ctx, i, serverId, readLog, until: ctx.clock.now() + minutes * 60_000, signal: AbortSignal.any([stop.signal, ctx.signal]) };
  try {
    await i.deferReply();
    const reply = await i.editReply({ content: `🖥️ \`${serverId}\` console: following in the thread below for ${minutes} min.`, allowedMentions: noMentions });
    let threadId: string | null = null;
    try {
      const thread = (await i.client.rest.post(Routes.threads(reply.channelId, reply.id), {
        body: { name: `console ${serverId}`, auto_archive_duration: AUTO_ARCHIVE_MINUTES },
      })) as APIThreadChannel;
      threadId = thread.id;
    } catch (err) {
      if (!(err instanceof DiscordAPIError && err.status === 403)) throw err;
      ctx.logger.warn({ serverId, channelId: reply.channelId, code: apiCode(err) }, 'discord: may not create threads here; /console follows in its reply. Give the bot Create Public Threads and Send Messages in Threads');
    }
    if (threadId) await followInThread(f, threadId);
    else await followInReply(f);
  } finally {
    if (mine.get(serverId) === stop) mine.delete(serverId);
  }
}

async function pause(f: Follow): Promise<void> {
  const wait = Math.min(f.ctx.options.consoleEditIntervalMs, Math.max(0, f.until - f.ctx.clock.now()));
  await f.ctx.clock.sleep(wait, f.signal).catch(() => undefined);
}

async function followInThread(f: Follow, threadId: string): Promise<void> {
  const rest = f.i.client.rest;
  const pending: string[] = [];
  let dropped = 0;
  let prev: string[] | null = null;
  let gone = false;
  const post = async (content: string) => {
    try {
      await rest.post(Routes.channelMessages(threadId), { body: { content, allowed_mentions: noMentions } });
    } catch (err) {
      // Someone deleted the thread: nothing left to follow into.
      if (apiCode(err) === DiscordCode.UnknownChannel) gone = true;
      else throw err;
    }
  };
  try {
    while (!f.signal.aborted && !gone && f.ctx.clock.now() < f.until) {
      const cur = (await f.readLog(f.serverId, TAIL_LINES)).lines;
      pending.push(...(prev === null ? cur.slice(-FIRST_LINES) : newLines(prev, cur)));
      prev = cur;
      if (pending.length > MAX_PENDING) dropped += pending.splice(0, pending.length - MAX_PENDING).length;
      for (let n = 0; n < POSTS_PER_POLL && !gone; n++) {
        const skipped = dropped > 0 ? `-# ${dropped} lines skipped: the log ran faster than Discord allows\n` : '';
        const body = takeMessage(pending, CONTENT_MAX - skipped.length);
        if (body === null) break;
        dropped = 0;
        await post(skipped + body);
      }
      await pause(f);
    }
  } finally {
    // One closing message (what is still pending would need more posts than the rate allows), then archive.
    const left = pending.length > 0 ? `-# ${pending.length} more lines not shown\n` : '';
    if (!gone) {
      await post(`${left}-# Console follow of \`${f.serverId}\` ended.`).catch(() => undefined);
      await rest.patch(Routes.channel(threadId), { body: { archived: true } }).catch((err: unknown) => {
        f.ctx.logger.warn({ serverId: f.serverId, threadId, code: apiCode(err) }, 'discord: could not archive the /console thread');
      });
    }
    await f.i.editReply({ content: `🖥️ \`${f.serverId}\` console (ended): see the thread below.`, allowedMentions: noMentions }).catch(() => undefined);
  }
}

function render(serverId: string, lines: string[], ended: boolean): string {
  const head = `🖥️ \`${serverId}\` console${ended ? ' (ended)' : ', following'} (no permission to create a thread here)\n`;
  let body = lines.map(fenceSafe).join('\n');
  const room = CONTENT_MAX - head.length - 8;
  if (body.length > room) body = body.slice(body.length - room);
  return `${head}\`\`\`\n${body || ' '}\n\`\`\``;
}

/** The fallback: the reply shows the last lines, edited only when they changed. */
async function followInReply(f: Follow): Promise<void> {
  let shown = '';
  let lines: string[] = [];
  try {
    while (!f.signal.aborted && f.ctx.clock.now() < f.until) {
      lines = (await f.readLog(f.serverId, REPLY_LINES)).lines;
      const text = render(f.serverId, lines, false);
      if (text !== shown) {
        await f.i.editReply({ content: text, allowedMentions: noMentions });
        shown = text;
      }
      await pause(f);
    }
  } finally {
    // Said once at the end, also when the log could not be read (the error is shown by the caller).
    await f.i.editReply({ content: render(f.serverId, lines, true), allowedMentions: noMentions }).catch(() => undefined);
  }
}
