import type { APIEmbed } from 'discord.js';
import type { Logger } from '../../lib/logger.ts';
import type { ServerView } from '../service/types.ts';
import type { Clock } from '../../protocol/index.ts';
import { channelRefusal, describeError, NotConnectedError, type ChannelRefusal } from './errors.ts';
import type { EditThrottle } from './edit-throttle.ts';
import { packEmbeds } from './limits.ts';
import { META_CHANNEL, type DiscordMessageStore } from './message-store.ts';
import type { ChannelPoster, MessageBody } from './poster.ts';
import { serverEmbed } from './render.ts';

const BOARDS_SLOT = 'boards';
const pageSlot = (i: number) => `board:${i}`;
/** Set on a board's channel once Discord refused it; holds the refusal (JSON) so a restart does not retry either. */
const BROKEN_SLOT = 'board:refused';

export function renderBoard(servers: ServerView[]): MessageBody[] {
  const sorted = [...servers].sort((a, b) => a.id.localeCompare(b.id));
  const embeds: APIEmbed[] = sorted.length
    ? sorted.map((s) => serverEmbed(s, { withPlayers: true }))
    : [{ title: 'ReconSync', description: 'No servers yet: connect an agent with servers in its agent.yaml.' }];
  return packEmbeds(embeds).map((page) => ({ embeds: page }));
}

interface BoardDeps {
  poster: ChannelPoster;
  store: DiscordMessageStore;
  throttle: EditThrottle;
  clock: Clock;
  logger: Logger;
  listServers: () => ServerView[];
  /** How often a pass also checks that unchanged pages still exist (a page deleted by hand). */
  checkIntervalMs: number;
  onPagesChanged: () => void;
  /** Discord refused the channel for good: told once per refusal. */
  onRefused: (channelId: string, refusal: ChannelRefusal) => void;
}

/** What one board pass did. */
interface PassResult {
  wrote: boolean;
  /** Why the pass stopped early, if it did. */
  error: unknown;
}

/**
 * One live status board in one channel: pages of up to 10 server embeds,
 * each page one message, kept in server order. A pass edits only pages whose
 * text changed; a page that cannot be edited (deleted by hand, or 30046 on an
 * old message) is posted anew together with every page after it, so the
 * order stays. Message ids live in the store so a restarted hub edits the
 * same messages. Once Discord refuses the channel (401/403/404) the board
 * stops until /statusboard is run for it again.
 */
class StatusBoard {
  /** Last body written per page (JSON), to skip edits that change nothing. */
  readonly #written = new Map<number, string>();
  #lastChecked = Number.NEGATIVE_INFINITY;
  /** Passes run one at a time: the throttled ones and /statusboard's own. */
  #chain: Promise<unknown> = Promise.resolve();
  refused: ChannelRefusal | null;
  readonly #deps: BoardDeps;

  constructor(readonly channelId: string, deps: BoardDeps) {
    this.#deps = deps;
    this.refused = parseRefusal(deps.store.get(channelId, BROKEN_SLOT));
  }

  get pageCount(): number {
    let n = 0;
    while (this.#deps.store.get(this.channelId, pageSlot(n)) !== null) n += 1;
    return n;
  }

  get key(): string {
    return `board:${this.channelId}`;
  }

  /** Something shown may have changed: a pass runs within the edit interval. */
  refresh(): void {
    if (this.refused) return;
    this.#deps.throttle.request(this.key, async () => (await this.pass(true)).wrote);
  }

  /** One pass now (after any running one). `announce`: a refusal is reported through onRefused. */
  pass(announce: boolean): Promise<PassResult> {
    const run = this.#chain.then(() => this.#run(announce));
    this.#chain = run.catch(() => undefined);
    return run;
  }

  /** Forget an earlier refusal (the admin says it is fixed). */
  retry(): void {
    this.refused = null;
    this.#deps.poster.allow(this.channelId);
    this.#deps.store.delete(this.channelId, BROKEN_SLOT);
  }

  /** Deletes the pages (best effort) and everything stored about this board. */
  async dismantle(): Promise<void> {
    this.refused ??= { status: 0, code: 0, reason: 'removed', fix: '' }; // no pass may start again
    await this.#chain;
    // In a channel Discord refused, deleting would only be refused too.
    const refusedByDiscord = this.#deps.store.get(this.channelId, BROKEN_SLOT) !== null;
    await this.#removeFrom(0, !refusedByDiscord);
    this.#deps.store.delete(this.channelId, BROKEN_SLOT);
    this.#deps.poster.allow(this.channelId);
  }

  async #run(announce: boolean): Promise<PassResult> {
    if (this.refused) return { wrote: false, error: null };
    const { store, poster, logger, clock } = this.#deps;
    const pages = renderBoard(this.#deps.listServers());
    const now = clock.now();
    const check = now - this.#lastChecked >= this.#deps.checkIntervalMs;
    let wrote = false;
    try {
      // Set at the first page that needs a new message: from there on every page is posted anew, in order.
      let fresh = false;
      for (let i = 0; i < pages.length; i++) {
        const body = pages[i]!;
        const json = JSON.stringify(body);
        if (!fresh) {
          const id = store.get(this.channelId, pageSlot(i));
          if (id !== null && this.#written.get(i) !== json) {
            const outcome = await poster.edit(this.channelId, id, body);
            if (outcome === 'ok') {
              this.#written.set(i, json);
              wrote = true;
              continue;
            }
            logger.info({ channelId: this.channelId, page: i, outcome }, 'discord: status page cannot be edited; posting it and the pages after it anew');
          } else if (id !== null) {
            if (!check || (await poster.exists(this.channelId, id))) continue;
            logger.info({ channelId: this.channelId, page: i }, 'discord: a status page was deleted by hand; posting it and the pages after it anew');
          }
          fresh = true;
          await this.#removeFrom(i, true);
          wrote = true;
        }
        const posted = await poster.send(this.channelId, body);
        store.set(this.channelId, pageSlot(i), posted);
        this.#written.set(i, json);
        wrote = true;
      }
      // The board shrank: drop surplus pages.
      if (store.get(this.channelId, pageSlot(pages.length)) !== null) {
        await this.#removeFrom(pages.length, true);
        wrote = true;
      }
      if (check) this.#lastChecked = now;
      return { wrote, error: null };
    } catch (err) {
      if (err instanceof NotConnectedError) return { wrote, error: err }; // refreshed again once logged in
      const refusal = channelRefusal(err);
      if (refusal) {
        this.#refuse(refusal, announce);
        return { wrote, error: err };
      }
      logger.warn({ channelId: this.channelId, ...describeError(err) }, 'discord: status board update failed; will retry on the next change');
      return { wrote: true, error: err };
    } finally {
      if (wrote) this.#deps.onPagesChanged();
    }
  }

  /** Removes page `from` and every later page (messages best effort, when `deleteMessages`). */
  async #removeFrom(from: number, deleteMessages: boolean): Promise<void> {
    const { store, poster } = this.#deps;
    for (let j = from; ; j++) {
      const id = store.get(this.channelId, pageSlot(j));
      if (id === null) break;
      if (deleteMessages && poster.connected) await poster.remove(this.channelId, id);
      store.delete(this.channelId, pageSlot(j));
      this.#written.delete(j);
    }
  }

  #refuse(refusal: ChannelRefusal, announce: boolean): void {
    this.refused = refusal;
    this.#deps.store.set(this.channelId, BROKEN_SLOT, JSON.stringify(refusal));
    this.#deps.throttle.forget(this.key);
    if (announce) this.#deps.onRefused(this.channelId, refusal);
  }
}

function parseRefusal(text: string | null): ChannelRefusal | null {
  if (!text) return null;
  try {
    const r = JSON.parse(text) as Partial<ChannelRefusal>;
    return { status: Number(r.status) || 0, code: Number(r.code) || 0, reason: String(r.reason ?? 'refused'), fix: String(r.fix ?? '') };
  } catch {
    return { status: 0, code: 0, reason: 'refused', fix: '' };
  }
}

/** What the admin reads when Discord refuses a board channel: what happened, what to fix, how to drop it. */
export function boardRefusalText(channelId: string, r: ChannelRefusal, lead = `The status board in <#${channelId}> stopped`): string {
  return `${lead}: Discord answered ${r.status} ${r.reason} (${r.code}). `
    + `To fix: ${r.fix}, then run \`/statusboard\` for <#${channelId}> again; `
    + `or drop it with \`/statusboard channel:${channelId} remove:True\`.`;
}

export type AddOutcome =
  | { ok: true; existed: boolean; pages: number; pending: string | null }
  | { ok: false; refusal: ChannelRefusal };

export interface BoardManagerDeps extends Omit<BoardDeps, 'onPagesChanged'> {
  statusChannelId: string | null;
  signal: AbortSignal;
  onPages?: (n: number) => void;
}

/** All boards: the configured status channel plus those set with /statusboard (kept in the store). */
export class BoardManager {
  readonly #boards = new Map<string, StatusBoard>();
  readonly #deps: BoardManagerDeps;

  constructor(deps: BoardManagerDeps) {
    this.#deps = deps;
    const ids = new Set<string>(this.#storedChannels());
    if (deps.statusChannelId) ids.add(deps.statusChannelId);
    for (const id of ids) this.#ensure(id);
    void this.#checkLoop();
  }

  /** A pass at every check interval, so a page deleted by hand comes back even when nothing changes. */
  async #checkLoop(): Promise<void> {
    const { clock, signal, checkIntervalMs } = this.#deps;
    if (checkIntervalMs <= 0) return;
    while (!signal.aborted) {
      try {
        await clock.sleep(checkIntervalMs, signal);
      } catch {
        return;
      }
      if (this.#deps.poster.connected) this.refresh();
    }
  }

  #storedChannels(): string[] {
    return (this.#deps.store.get(META_CHANNEL, BOARDS_SLOT) ?? '').split(',').filter(Boolean);
  }

  #setStored(ids: string[]): void {
    this.#deps.store.set(META_CHANNEL, BOARDS_SLOT, ids.join(','));
  }

  #ensure(channelId: string): StatusBoard {
    let b = this.#boards.get(channelId);
    if (!b) {
      b = new StatusBoard(channelId, { ...this.#deps, onPagesChanged: () => this.#reportPages() });
      this.#boards.set(channelId, b);
    }
    return b;
  }

  #reportPages(): void {
    this.#deps.onPages?.([...this.#boards.values()].reduce((n, b) => n + b.pageCount, 0));
  }

  /**
   * Posts (or refreshes) the board in a channel and says what really happened.
   * A channel Discord refuses is not kept (unless it was a board already: then
   * it waits, refused, for the admin to fix it or remove it).
   */
  async add(channelId: string): Promise<AddOutcome> {
    const existed = this.#boards.has(channelId);
    const b = this.#ensure(channelId);
    b.retry();
    const r = await b.pass(false);
    const refusal = b.refused;
    if (refusal) {
      const kept = existed || this.#storedChannels().includes(channelId) || channelId === this.#deps.statusChannelId;
      if (!kept) {
        await b.dismantle();
        this.#boards.delete(channelId);
      }
      return { ok: false, refusal };
    }
    const stored = this.#storedChannels();
    if (!stored.includes(channelId)) this.#setStored([...stored, channelId]);
    const pending = r.error ? describeError(r.error).message : null;
    return { ok: true, existed, pages: b.pageCount, pending };
  }

  /** Stops keeping the board in a channel: its pages are deleted (best effort) and it is forgotten. */
  async remove(channelId: string): Promise<{ removed: boolean; configured: boolean }> {
    const configured = channelId === this.#deps.statusChannelId;
    const stored = this.#storedChannels();
    const b = this.#boards.get(channelId);
    if (!b && !stored.includes(channelId)) return { removed: false, configured };
    if (b) {
      await b.dismantle();
      this.#deps.throttle.forget(b.key);
      this.#boards.delete(channelId);
    }
    this.#setStored(stored.filter((id) => id !== channelId));
    this.#reportPages();
    return { removed: true, configured };
  }

  has(channelId: string): boolean {
    return this.#boards.has(channelId);
  }

  /** The refusal that stopped a board, if one did. */
  refusal(channelId: string): ChannelRefusal | null {
    return this.#boards.get(channelId)?.refused ?? null;
  }

  /** Something shown on the boards may have changed. */
  refresh(): void {
    for (const b of this.#boards.values()) b.refresh();
    this.#reportPages();
  }

  /** Message ids of a board's pages, in order (for /statusboard's answer and tests). */
  pageIds(channelId: string): string[] {
    const out: string[] = [];
    for (let i = 0; ; i++) {
      const id = this.#deps.store.get(channelId, pageSlot(i));
      if (id === null) return out;
      out.push(id);
    }
  }
}
