import { MessageFlags, type ChatInputCommandInteraction, type Interaction } from 'discord.js';
import { ReconSyncError } from '../../protocol/index.ts';
import { discordActor } from './audit.ts';
import { commandLevels } from './commands.ts';
import { customIdShape } from './confirm.ts';
import type { BotContext } from './context.ts';
import { describeError, userMessage } from './errors.ts';
import { backupCreate, backupRestoreAsk, serverCancelRestart, serverStart, serverStopOrRestart } from './handlers/actions.ts';
import { serverUpdateAsk } from './handlers/update.ts';
import { rcon, statusboard } from './handlers/admin.ts';
import { autocomplete } from './handlers/autocomplete.ts';
import { onButton } from './handlers/buttons.ts';
import { agents, backupList, status } from './handlers/views.ts';
import { players } from './handlers/players.ts';
import { consoleFollow } from './handlers/console.ts';
import { allows, levelOf, memberRoles } from './permissions.ts';

type Handler = (ctx: BotContext, i: ChatInputCommandInteraction) => Promise<void>;

const handlers: Record<string, Handler> = {
  status,
  'server start': serverStart,
  'server stop': (ctx, i) => serverStopOrRestart(ctx, i, 'stop'),
  'server restart': (ctx, i) => serverStopOrRestart(ctx, i, 'restart'),
  'server cancel': serverCancelRestart,
  'server update': serverUpdateAsk,
  'backup create': backupCreate,
  'backup list': backupList,
  'backup restore': backupRestoreAsk,
  agents,
  players,
  console: consoleFollow,
  rcon,
  statusboard,
};

/** Entry point for every interaction; never throws (a failure becomes an ephemeral answer and a log line). */
export async function handleInteraction(ctx: BotContext, i: Interaction): Promise<void> {
  try {
    if (ctx.config.guildId && i.guildId !== ctx.config.guildId) {
      // A button from elsewhere is a refused component interaction like any other: audited.
      if (i.isButton()) {
        ctx.audit.record({ actor: discordActor(i.user), action: 'button', serverId: null, outcome: 'denied', detail: `button ${customIdShape(i.customId)}: from another Discord server` }, { toService: true });
      }
      if (i.isRepliable()) await i.reply({ content: 'This bot is set up for another Discord server.', flags: MessageFlags.Ephemeral });
      else if (i.isAutocomplete()) await i.respond([]);
      return;
    }
    if (i.isAutocomplete()) return await autocomplete(ctx, i);
    if (i.isChatInputCommand()) return await onCommand(ctx, i);
    if (i.isButton()) return await onButton(ctx, i);
  } catch (err) {
    await fail(ctx, i, err);
  }
}

async function onCommand(ctx: BotContext, i: ChatInputCommandInteraction): Promise<void> {
  const sub = i.options.getSubcommand(false);
  const key = sub ? `${i.commandName} ${sub}` : i.commandName;
  const need = commandLevels[key];
  const handler = handlers[key];
  if (!need || !handler) {
    await i.reply({ content: `Unknown command /${key}; the command list may be updating.`, flags: MessageFlags.Ephemeral });
    return;
  }
  if (!allows(levelOf(ctx.config.roles, memberRoles(i)), need)) {
    const serverId = i.options.get('server')?.value;
    ctx.audit.record({
      actor: discordActor(i.user), action: key.replace(' ', '.'), serverId: typeof serverId === 'string' ? serverId : null,
      outcome: 'denied', detail: `needs ${need}`,
    }, { toService: true });
    await i.reply({ content: `🚫 /${key} needs the ${need} role.`, flags: MessageFlags.Ephemeral });
    return;
  }
  await handler(ctx, i);
}

async function fail(ctx: BotContext, i: Interaction, err: unknown): Promise<void> {
  if (!(err instanceof ReconSyncError)) ctx.logger.error({ interaction: i.id, err: describeError(err) }, 'discord: interaction failed');
  try {
    if (i.isAutocomplete()) {
      if (!i.responded) await i.respond([]);
    } else if (i.isRepliable()) {
      if (i.deferred || i.replied) await i.editReply({ content: userMessage(err), embeds: [], components: [] });
      else await i.reply({ content: userMessage(err), flags: MessageFlags.Ephemeral });
    }
  } catch (again) {
    ctx.logger.warn({ interaction: i.id, err: describeError(again) }, 'discord: could not report a failure to the user');
  }
}
