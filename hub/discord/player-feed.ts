import type { Clock } from '../../protocol/index.ts';
import type { Logger } from '../../lib/logger.ts';
import type { EventListener } from '../events/event-log.ts';
import type { HubEvent } from '../../protocol/event-kinds.ts';
import { channelRefusal, describeError, NotConnectedError } from './errors.ts';
import { escapeText, inlineCode } from './format.ts';
import type { ChannelPoster } from './poster.ts';

/** Discord's content limit, with room for the "and N more" line. */
const MESSAGE_MAX = 1900;
/** Lines held while Discord is unreachable; older ones are dropped (and said so). */
const MAX_PENDING = 500;

export interface PlayerFeedDeps {
  channelId: string;
  poster: ChannelPoster;
  clock: Clock;
  logger: Logger;
  /** Joins and leaves within this window go out as one message (Discord allows ~5 messages per 5 s per channel). */
  batchMs: number;
  subscribe: (listener: EventListener) => () => void;
  signal: AbortSignal;
}

/**
 * Player joins and leaves to discord.eventsChannelId, batched: one message
 * per window however many players came and went.
 */
export class PlayerFeed {
  readonly #d: PlayerFeedDeps;
  readonly #pending: string[] = [];
  #dropped = 0;
  #timer: Promise<void> | null = null;
  readonly #unsubscribe: () => void;

  constructor(deps: PlayerFeedDeps) {
    this.#d = deps;
    this.#unsubscribe = deps.subscribe((e) => this.#onEvent(e));
    deps.signal.addEventListener('abort', () => this.#unsubscribe(), { once: true });
  }

  #onEvent(e: HubEvent): void {
    if (e.kind !== 'player_join' && e.kind !== 'player_leave') return;
    this.#pending.push(`${e.kind === 'player_join' ? '➕' : '➖'} ${inlineCode(e.serverId ?? '?')} ${escapeText(e.message)}`);
    if (this.#pending.length > MAX_PENDING) {
      this.#pending.shift();
      this.#dropped += 1;
    }
    this.#timer ??= this.#flushLater();
  }

  async #flushLater(): Promise<void> {
    try {
      await this.#d.clock.sleep(this.#d.batchMs, this.#d.signal);
    } catch {
      return;
    } finally {
      this.#timer = null;
    }
    const lines: string[] = [];
    let size = 0;
    while (this.#pending.length > 0 && size + this.#pending[0]!.length + 1 <= MESSAGE_MAX) {
      const line = this.#pending.shift()!;
      size += line.length + 1;
      lines.push(line);
    }
    if (this.#dropped > 0) lines.push(`-# ${this.#dropped} older join/leave lines were dropped while Discord was unreachable`);
    this.#dropped = 0;
    try {
      await this.#d.poster.send(this.#d.channelId, { content: lines.join('\n') });
    } catch (err) {
      if (err instanceof NotConnectedError) this.#pending.unshift(...lines.filter((l) => !l.startsWith('-#')));
      else if (!channelRefusal(err)) this.#d.logger.warn({ channelId: this.#d.channelId, ...describeError(err) }, 'discord: could not post player activity');
    }
    // More than one message's worth, or kept back while offline: the next window takes it.
    if (this.#pending.length > 0) this.#timer ??= this.#flushLater();
  }
}
