import type { AutocompleteInteraction, ApplicationCommandOptionChoiceData } from 'discord.js';
import type { BackupRecord } from '../../../protocol/index.ts';
import type { ServerView } from '../../service/types.ts';
import type { BotContext } from '../context.ts';
import { formatBytes, plainAge } from '../format.ts';
import { cut, DiscordLimits } from '../limits.ts';
import { allows, levelOf, memberRoles } from '../permissions.ts';

type Choice = ApplicationCommandOptionChoiceData<string>;

/** Server ids whose id (first) or name starts with what was typed; at most 25. */
export function serverChoices(servers: ServerView[], typed: string): Choice[] {
  const q = typed.trim().toLowerCase();
  const byId = servers.filter((s) => s.id.toLowerCase().startsWith(q));
  const byName = servers.filter((s) => !byId.includes(s) && s.name.toLowerCase().startsWith(q));
  return [...byId.sort((a, b) => a.id.localeCompare(b.id)), ...byName.sort((a, b) => a.id.localeCompare(b.id))]
    .slice(0, DiscordLimits.choices)
    .map((s) => ({ name: cut(`${s.id} — ${s.name} (${s.agentOnline ? s.state : 'offline'})`, DiscordLimits.choiceName), value: s.id }));
}

/** Backups (newest first) whose id starts with what was typed; at most 25. */
export function backupChoices(backups: BackupRecord[], typed: string, now: number): Choice[] {
  const q = typed.trim().toLowerCase();
  return backups.filter((b) => b.id.toLowerCase().startsWith(q) && b.id.length <= DiscordLimits.choiceValue)
    .slice(0, DiscordLimits.choices)
    .map((b) => ({
      name: cut(`${b.id} · ${plainAge(Date.parse(b.createdAt), now)} · ${formatBytes(b.size)}${b.locked ? ' · locked' : ''}`, DiscordLimits.choiceName),
      value: b.id,
    }));
}

/** Answers from the hub's cache only: autocomplete cannot be deferred and must answer within 3 s. */
export async function autocomplete(ctx: BotContext, i: AutocompleteInteraction): Promise<void> {
  const focused = i.options.getFocused(true);
  let choices: Choice[] = [];
  if (allows(levelOf(ctx.config.roles, memberRoles(i)), 'viewer')) {
    const typed = String(focused.value);
    if (focused.name === 'server') {
      choices = serverChoices(ctx.service.listServers(), typed);
    } else if (focused.name === 'backup') {
      const serverId = i.options.getString('server');
      try {
        choices = serverId ? backupChoices(ctx.service.listBackups(serverId), typed, ctx.clock.now()) : [];
      } catch {
        choices = []; // unknown server typed so far
      }
    }
  }
  await i.respond(choices);
}
