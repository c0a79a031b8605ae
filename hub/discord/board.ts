import type { APIEmbed } from 'discord.js';
import type { Logger } from '../../lib/logger.ts';
import type { ServerView } from '../service/types.ts';
import { describeError, NotConnectedError } from './errors.ts';
import type { EditThrottle } from './edit-throttle.ts';
import { packEmbeds } from './limits.ts';
import { META_CHANNEL, type DiscordMessageStore } from './message-store.ts';
import type { ChannelPoster, MessageBody } from './poster.ts';
import { serverEmbed } from './render.ts';

const BOARDS_SLOT = 'boards';
const pageSlot = (i: number) => `board:${i}`;

export function renderBoard(servers: ServerView[]): MessageBody[] {
  const sorted = [...servers].sort((a, b) => a.id.localeCompare(b.id));
  const embeds: APIEmbed[] = sorted.length
    ? sorted.map((s) => serverEmbed(s))
    : [{ title: 'ReconSync', description: 'No servers yet: connect an agent with servers in its agent.yaml.' }];
  return packEmbeds(embeds).map((page) => ({ embeds: page }));
}

interface BoardDeps {
  poster: ChannelPoster;
  store: DiscordMessageStore;
  throttle: EditThrottle;
  logger: Logger;
  listServers: () => ServerView[];
  onPagesChanged: () => void;
}

/**
 * One live status board in one channel: pages of up to 10 server embeds,
 * each page one message, edited in place only when its text changed and at
 * most once per interval (the throttle). Message ids live in the store so a
 * restarted hub edits the same messages.
 */
class StatusBoard {
  /** Last body written per page (JSON), to skip edits that change nothing. */
  private readonly written = new Map<number, string>();
  private latest: MessageBody[] = [];
  /** Most pages ever rendered: a page still being posted is not in the store yet but may need removing. */
  private mostPages = 0;

  constructor(readonly channelId: string, private readonly deps: BoardDeps) {}

  get pageCount(): number {
    let n = 0;
    while (this.deps.store.get(this.channelId, pageSlot(n)) !== null) n += 1;
    return n;
  }

  refresh(): void {
    this.latest = renderBoard(this.deps.listServers());
    this.mostPages = Math.max(this.mostPages, this.latest.length, this.pageCount);
    // Always ask: sync() compares with what was written when it runs, which
    // also covers an edit still in flight when this refresh happened.
    for (let i = 0; i < this.mostPages; i++) this.deps.throttle.request(this.key(i), () => this.sync(i));
  }

  private key(i: number): string {
    return `board:${this.channelId}:${i}`;
  }

  /** Brings page i in line with the latest render; false when there was nothing to do. */
  private async sync(i: number): Promise<boolean> {
    const { store, poster, logger } = this.deps;
    const body = this.latest[i];
    const id = store.get(this.channelId, pageSlot(i));
    try {
      if (!body) {
        // The board shrank: drop surplus pages.
        if (!id) return false;
        await poster.remove(this.channelId, id);
        store.delete(this.channelId, pageSlot(i));
        this.written.delete(i);
        this.deps.onPagesChanged();
        return true;
      }
      const json = JSON.stringify(body);
      if (this.written.get(i) === json) return false;
      if (id) {
        const outcome = await poster.edit(this.channelId, id, body);
        if (outcome === 'ok') {
          this.written.set(i, json);
          return true;
        }
        logger.info({ channelId: this.channelId, page: i, outcome }, 'discord: status message cannot be edited; posting a fresh one');
        if (outcome === 'too_old') await poster.remove(this.channelId, id);
      }
      const fresh = await poster.send(this.channelId, body);
      store.set(this.channelId, pageSlot(i), fresh);
      this.written.set(i, json);
      this.deps.onPagesChanged();
      return true;
    } catch (err) {
      if (err instanceof NotConnectedError) return false; // refreshed again once logged in
      logger.warn({ channelId: this.channelId, page: i, ...describeError(err) }, 'discord: status board update failed; will retry on the next change');
      return true;
    }
  }
}

/** All boards: the configured status channel plus those set with /statusboard (kept in the store). */
export class BoardManager {
  private readonly boards = new Map<string, StatusBoard>();

  constructor(private readonly deps: Omit<BoardDeps, 'onPagesChanged'> & { statusChannelId: string | null; onPages?: (n: number) => void }) {
    const ids = new Set<string>(this.storedChannels());
    if (deps.statusChannelId) ids.add(deps.statusChannelId);
    for (const id of ids) this.ensure(id);
  }

  private storedChannels(): string[] {
    return (this.deps.store.get(META_CHANNEL, BOARDS_SLOT) ?? '').split(',').filter(Boolean);
  }

  private ensure(channelId: string): StatusBoard {
    let b = this.boards.get(channelId);
    if (!b) {
      b = new StatusBoard(channelId, { ...this.deps, onPagesChanged: () => this.reportPages() });
      this.boards.set(channelId, b);
    }
    return b;
  }

  private reportPages(): void {
    this.deps.onPages?.([...this.boards.values()].reduce((n, b) => n + b.pageCount, 0));
  }

  /** Adds a board channel (persisted) and renders it. */
  add(channelId: string): void {
    const stored = this.storedChannels();
    if (!stored.includes(channelId)) this.deps.store.set(META_CHANNEL, BOARDS_SLOT, [...stored, channelId].join(','));
    this.ensure(channelId).refresh();
  }

  has(channelId: string): boolean {
    return this.boards.has(channelId);
  }

  /** Something shown on the boards may have changed. */
  refresh(): void {
    for (const b of this.boards.values()) b.refresh();
    this.reportPages();
  }

  /** Message ids of a board's pages, in order (for /statusboard's answer and tests). */
  pageIds(channelId: string): string[] {
    const out: string[] = [];
    for (let i = 0; ; i++) {
      const id = this.deps.store.get(channelId, pageSlot(i));
      if (id === null) return out;
      out.push(id);
    }
  }
}
