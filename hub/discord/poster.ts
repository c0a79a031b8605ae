import { Routes, type APIEmbed, type APIMessage, type REST } from 'discord.js';
import type { Clock } from '../../protocol/index.ts';
import type { Logger } from '../../lib/logger.ts';
import { apiCode, channelRefusal, ChannelRefusedError, DiscordCode, isInvalidToken, NotConnectedError, type ChannelRefusal } from './errors.ts';

export interface MessageBody {
  content?: string;
  embeds?: APIEmbed[];
  /** Role ids the content may ping (discord.alertRoles); nothing else ever pings. */
  mentionRoles?: string[];
}

/** How long a 401 silences the poster when no fresh login comes first. */
const UNAUTHORIZED_PAUSE_MS = 60_000;

export type EditOutcome = 'ok' | 'gone' | 'too_old';

/** Counters the hub exposes on /metrics; shapes match prom-client's Counter and Gauge. */
export interface DiscordMetrics {
  discordEdits: { inc(labels: { outcome: string }): void };
  discordRateLimited: { inc(): void };
  discordStatusMessages: { set(value: number): void };
}

/**
 * Channel messages through discord.js's REST client (which queues, honours 429
 * and retries 5xx). Mentions are never parsed: text from game servers must
 * not ping anyone. A channel Discord refuses (401/403/404) is not asked
 * again until `allow()`: retrying only piles up invalid requests, which
 * Discord answers with an IP ban at 10,000 per 10 minutes.
 */
export class ChannelPoster {
  readonly #refused = new Map<string, ChannelRefusal>();
  /**
   * Set by a 401: the token no longer works, so nothing is sent until the bot
   * has logged in again, or for UNAUTHORIZED_PAUSE_MS (a 401 on one request
   * while the session lives must not silence the bot for good).
   */
  #unauthorizedUntil = Number.NEGATIVE_INFINITY;
  readonly #rest: () => REST | null;
  readonly #metrics: DiscordMetrics | null;
  readonly #logger: Logger;
  readonly #clock: Clock;

  constructor(
    rest: () => REST | null,
    metrics: DiscordMetrics | null,
    logger: Logger,
    clock: Clock,
  ) {
    this.#rest = rest;
    this.#metrics = metrics;
    this.#logger = logger;
    this.#clock = clock;
  }

  /** After a (re)login: a 401 seen with the old session no longer applies. */
  loggedIn(): void {
    this.#unauthorizedUntil = Number.NEGATIVE_INFINITY;
  }

  /** Try a refused channel again (the admin says it is fixed, or dropped it). */
  allow(channelId: string): void {
    this.#refused.delete(channelId);
  }

  /** Runs one request for a channel, unless Discord refused that channel before; remembers a new refusal. */
  async #guarded<T>(channelId: string, fn: () => Promise<T>): Promise<T> {
    const known = this.#refused.get(channelId);
    if (known) throw new ChannelRefusedError(channelId, known);
    try {
      return await fn();
    } catch (err) {
      if (isInvalidToken(err)) {
        if (this.#clock.now() >= this.#unauthorizedUntil) this.#logger.error('discord: Discord answered 401 (token rejected); requests pause until the bot has logged in again. Check discord.token in hub.yaml');
        this.#unauthorizedUntil = this.#clock.now() + UNAUTHORIZED_PAUSE_MS;
        throw new NotConnectedError();
      }
      const refusal = channelRefusal(err);
      if (refusal && !this.#refused.has(channelId)) {
        this.#refused.set(channelId, refusal);
        this.#logger.error({ channelId, status: refusal.status, code: refusal.code },
          `discord: Discord refuses channel ${channelId} (${refusal.reason}); the bot stops writing there. To fix: ${refusal.fix}`);
      }
      throw err;
    }
  }

  get connected(): boolean {
    return this.#rest() !== null;
  }

  #api(): REST {
    const r = this.#rest();
    if (!r || this.#clock.now() < this.#unauthorizedUntil) throw new NotConnectedError();
    return r;
  }

  async send(channelId: string, body: MessageBody): Promise<string> {
    const { mentionRoles, ...rest } = body;
    const msg = (await this.#guarded(channelId, () => this.#api().post(Routes.channelMessages(channelId), { body: { ...rest, allowed_mentions: { parse: [], roles: mentionRoles ?? [] } } }))) as APIMessage;
    return msg.id;
  }

  /** Edits in place; a deleted message or Discord's old-message edit limit is reported, not thrown. */
  async edit(channelId: string, messageId: string, body: MessageBody): Promise<EditOutcome> {
    try {
      await this.#guarded(channelId, () => this.#api().patch(Routes.channelMessage(channelId, messageId), { body: { ...body, allowed_mentions: { parse: [] } } }));
      this.#metrics?.discordEdits.inc({ outcome: 'ok' });
      return 'ok';
    } catch (err) {
      const code = apiCode(err);
      if (code === DiscordCode.UnknownMessage) {
        this.#metrics?.discordEdits.inc({ outcome: 'gone' });
        return 'gone';
      }
      if (code === DiscordCode.TooManyEditsOldMessage) {
        this.#metrics?.discordEdits.inc({ outcome: 'too_old' });
        return 'too_old';
      }
      this.#metrics?.discordEdits.inc({ outcome: 'error' });
      throw err;
    }
  }

  /** Whether the message is still there (someone may have deleted it by hand). Other errors are thrown. */
  async exists(channelId: string, messageId: string): Promise<boolean> {
    try {
      await this.#guarded(channelId, () => this.#api().get(Routes.channelMessage(channelId, messageId)));
      return true;
    } catch (err) {
      if (apiCode(err) === DiscordCode.UnknownMessage) return false;
      throw err;
    }
  }

  /** Best effort: the message may already be gone. */
  async remove(channelId: string, messageId: string): Promise<void> {
    await this.#guarded(channelId, () => this.#api().delete(Routes.channelMessage(channelId, messageId))).catch(() => undefined);
  }
}
