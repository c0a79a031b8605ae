import { Routes, type APIEmbed, type APIMessage, type REST } from 'discord.js';
import { apiCode, DiscordCode, NotConnectedError } from './errors.ts';

export interface MessageBody {
  content?: string;
  embeds?: APIEmbed[];
}

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
 * not ping anyone.
 */
export class ChannelPoster {
  constructor(private readonly rest: () => REST | null, private readonly metrics: DiscordMetrics | null) {}

  get connected(): boolean {
    return this.rest() !== null;
  }

  private api(): REST {
    const r = this.rest();
    if (!r) throw new NotConnectedError();
    return r;
  }

  async send(channelId: string, body: MessageBody): Promise<string> {
    const msg = (await this.api().post(Routes.channelMessages(channelId), { body: { ...body, allowed_mentions: { parse: [] } } })) as APIMessage;
    return msg.id;
  }

  /** Edits in place; a deleted message or Discord's old-message edit limit is reported, not thrown. */
  async edit(channelId: string, messageId: string, body: MessageBody): Promise<EditOutcome> {
    try {
      await this.api().patch(Routes.channelMessage(channelId, messageId), { body: { ...body, allowed_mentions: { parse: [] } } });
      this.metrics?.discordEdits.inc({ outcome: 'ok' });
      return 'ok';
    } catch (err) {
      const code = apiCode(err);
      if (code === DiscordCode.UnknownMessage) {
        this.metrics?.discordEdits.inc({ outcome: 'gone' });
        return 'gone';
      }
      if (code === DiscordCode.TooManyEditsOldMessage) {
        this.metrics?.discordEdits.inc({ outcome: 'too_old' });
        return 'too_old';
      }
      this.metrics?.discordEdits.inc({ outcome: 'error' });
      throw err;
    }
  }

  /** Whether the message is still there (someone may have deleted it by hand). Other errors are thrown. */
  async exists(channelId: string, messageId: string): Promise<boolean> {
    try {
      await this.api().get(Routes.channelMessage(channelId, messageId));
      return true;
    } catch (err) {
      if (apiCode(err) === DiscordCode.UnknownMessage) return false;
      throw err;
    }
  }

  /** Best effort: the message may already be gone. */
  async remove(channelId: string, messageId: string): Promise<void> {
    await this.api().delete(Routes.channelMessage(channelId, messageId)).catch(() => undefined);
  }
}
