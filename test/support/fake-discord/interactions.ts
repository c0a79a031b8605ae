import { randomBytes } from 'node:crypto';
import { isObj, Limits, type Json } from './limits.ts';
import { toApiMessage } from './rest.ts';
import { snowflake } from './snowflake.ts';
import type { FakeInteraction, FakeMessage, FakeState, FakeUser, InteractionKind } from './state.ts';

export type OptionValue = string | number | boolean;

export interface CommandInput {
  /** Top-level command name, e.g. 'server'. */
  name: string;
  /** Subcommand, e.g. 'restart'. */
  subcommand?: string;
  options?: Record<string, OptionValue>;
  user: FakeUser;
  channelId?: string;
}

export interface AutocompleteInput extends CommandInput {
  /** The option the user is typing in; its value is the typed prefix. */
  focused: string;
}

export interface ButtonInput {
  message: FakeMessage | string;
  customId: string;
  user: FakeUser;
  /** A hostile client: send `customId` even though the message has no such button. */
  forged?: boolean;
}

interface Ctx {
  state: FakeState;
  applicationId: string;
  guildId: string;
  defaultChannelId: string;
  broadcast: (t: string, d: unknown) => number;
  timers: Set<NodeJS.Timeout>;
}

/** A test's view of one interaction: what the bot answered, awaited without sleeping. */
export class InteractionHandle {
  constructor(private readonly state: FakeState, readonly record: FakeInteraction) {}

  get id(): string {
    return this.record.id;
  }

  /** The first callback type (4 reply, 5 defer, 6 deferred update, 7 update, 8 choices). */
  async acked(timeoutMs = 5000): Promise<number> {
    const cb = await this.state.waitFor(() => this.record.callbacks[0], { timeoutMs, what: `a response to ${this.describe()}` });
    return cb.type;
  }

  /** The message @original points at, once `accept` (default: it has content) holds. */
  reply(accept: (m: FakeMessage) => boolean = (m) => !m.loading, timeoutMs = 5000): Promise<FakeMessage> {
    return this.state.waitFor(() => {
      const m = this.record.originalId ? this.state.messages.get(this.record.originalId) : undefined;
      return m && accept(m) ? snapshot(m) : undefined;
    }, { timeoutMs, what: `the reply to ${this.describe()}` });
  }

  /** Waits until the reply's text (content + embeds) matches. */
  replyMatching(re: RegExp, timeoutMs = 5000): Promise<FakeMessage> {
    return this.reply((m) => !m.loading && re.test(messageText(m)), timeoutMs);
  }

  choices(timeoutMs = 5000): Promise<{ name: string; value: string | number }[]> {
    return this.state.waitFor(() => this.record.choices as { name: string; value: string | number }[] | null, { timeoutMs, what: `choices for ${this.describe()}` });
  }

  private describe(): string {
    return `${this.record.kind} interaction ${this.record.id}`;
  }
}

/** A copy as the user saw it at that moment (the live message keeps changing). */
function snapshot(m: FakeMessage): FakeMessage {
  return structuredClone(m);
}

/** Everything a human reads in a message: content, embed titles, descriptions, fields, footers, buttons. */
export function messageText(m: FakeMessage): string {
  const parts = [m.content];
  for (const e of m.embeds) {
    parts.push(String(e.title ?? ''), String(e.description ?? ''));
    if (Array.isArray(e.fields)) for (const f of e.fields) if (isObj(f)) parts.push(String(f.name ?? ''), String(f.value ?? ''));
    if (isObj(e.footer)) parts.push(String(e.footer.text ?? ''));
  }
  for (const row of m.components) if (Array.isArray(row.components)) for (const c of row.components) if (isObj(c)) parts.push(String(c.label ?? ''));
  return parts.join('\n');
}

/** custom_ids of the buttons on a message. */
export function buttonIds(m: FakeMessage): string[] {
  return m.components.flatMap((r) => (Array.isArray(r.components) ? r.components : [])).filter(isObj).map((c) => String(c.custom_id ?? ''));
}

export class InteractionInjector {
  constructor(private readonly ctx: Ctx) {}

  command(input: CommandInput): InteractionHandle {
    const { command, options, resolved } = this.buildOptions(input, null);
    return this.inject('command', input.user, input.channelId, {
      type: 2,
      data: { id: command.id, name: input.name, type: 1, guild_id: this.ctx.guildId, options, ...(resolved ? { resolved } : {}) },
    });
  }

  autocomplete(input: AutocompleteInput): InteractionHandle {
    const { command, options } = this.buildOptions(input, input.focused);
    return this.inject('autocomplete', input.user, input.channelId, {
      type: 4,
      data: { id: command.id, name: input.name, type: 1, guild_id: this.ctx.guildId, options },
    });
  }

  button(input: ButtonInput): InteractionHandle {
    // A user may press a button on a stale copy (the edit removing it has not reached their client yet).
    const seen = typeof input.message === 'string' ? this.ctx.state.messages.get(input.message) : input.message;
    const msg = seen ? this.ctx.state.messages.get(seen.id) : undefined;
    if (!seen || !msg || msg.deleted) throw new Error(`fake discord: no message ${typeof input.message === 'string' ? input.message : input.message.id}`);
    if (!input.forged && !buttonIds(seen).includes(input.customId)) throw new Error(`fake discord: message ${msg.id} has no button ${input.customId}`);
    const h = this.inject('button', input.user, msg.channelId, {
      type: 3,
      data: { custom_id: input.customId, component_type: 2 },
      message: toApiMessage(msg, this.ctx.applicationId, this.ctx.guildId),
    });
    h.record.sourceMessageId = msg.id;
    return h;
  }

  private inject(kind: InteractionKind, user: FakeUser, channelId: string | undefined, extra: Json): InteractionHandle {
    const { state, guildId } = this.ctx;
    const channel = channelId ?? this.ctx.defaultChannelId;
    const rec: FakeInteraction = {
      id: snowflake(), token: `aW50ZXJhY3Rpb24${randomBytes(24).toString('base64url')}`, kind, user, channelId: channel,
      createdAt: Date.now(), callbacks: [], originalId: null, followupIds: [], choices: null, expired: false, sourceMessageId: null,
    };
    state.interactions.set(rec.id, rec);
    state.interactionsByToken.set(rec.token, rec);
    const apiUser = { id: user.id, username: user.username ?? `user${user.id.slice(-4)}`, discriminator: '0', global_name: null, avatar: null };
    const payload = {
      id: rec.id, application_id: this.ctx.applicationId, token: rec.token, version: 1, guild_id: guildId,
      channel_id: channel, channel: { id: channel, type: 0, guild_id: guildId, name: `channel-${channel}` },
      member: { user: apiUser, roles: user.roles ?? [], joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0, permissions: '2248473465835073' },
      app_permissions: '2248473465835073', locale: 'en-US', guild_locale: 'en-US', entitlements: [],
      authorizing_integration_owners: { '0': guildId }, context: 0, attachment_size_limit: 8_388_608, ...extra,
    };
    // Discord fails the interaction when the bot does not answer in time; the test must see that.
    const timer = setTimeout(() => {
      this.ctx.timers.delete(timer);
      if (rec.callbacks.length === 0) {
        rec.expired = true;
        state.violate(`${kind} interaction ${rec.id} was not answered within ${Limits.ackMs} ms`);
      }
    }, Limits.ackMs);
    this.ctx.timers.add(timer);
    if (this.ctx.broadcast('INTERACTION_CREATE', payload) === 0) throw new Error('fake discord: no bot is connected to the gateway');
    state.changed();
    return new InteractionHandle(state, rec);
  }

  /** Turns `{server: 'x'}` into Discord's option tree, typed by the registered command definition. */
  private buildOptions(input: CommandInput, focused: string | null) {
    const all = [...this.ctx.state.commands.values()].flat();
    const command = all.find((c) => c.name === input.name);
    if (!command) throw new Error(`fake discord: /${input.name} is not registered`);
    let defs = Array.isArray(command.options) ? command.options.filter(isObj) : [];
    let sub: Json | undefined;
    if (input.subcommand) {
      sub = defs.find((o) => o.name === input.subcommand && o.type === 1);
      if (!sub) throw new Error(`fake discord: /${input.name} has no subcommand ${input.subcommand}`);
      defs = Array.isArray(sub.options) ? sub.options.filter(isObj) : [];
    }
    const resolved: { channels: Record<string, Json> } = { channels: {} };
    const leaf = Object.entries(input.options ?? {}).map(([name, value]) => {
      const def = defs.find((o) => o.name === name);
      if (!def) throw new Error(`fake discord: /${input.name} ${input.subcommand ?? ''} has no option ${name}`);
      if (def.type === 7) resolved.channels[String(value)] = { id: String(value), type: 0, name: `channel-${value}`, permissions: '2248473465835073' };
      return { name, type: def.type, value, ...(focused === name ? { focused: true } : {}) };
    });
    const options = sub ? [{ name: input.subcommand, type: 1, options: leaf }] : leaf;
    return { command, options, resolved: Object.keys(resolved.channels).length ? resolved : null };
  }
}
