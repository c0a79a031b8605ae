import type { Logger } from '../../lib/logger.ts';
import type { Clock } from '../../protocol/index.ts';
import type { HubService, HubServiceEvents } from '../service/types.ts';
import type { Store } from '../store/index.ts';
import type { HubEvent, NewHubEvent } from '../../protocol/event-kinds.ts';

export interface EventLogOptions {
  store: Store;
  /** Events kept in the store (the newest); older ones are deleted as new ones arrive. */
  maxEvents?: number;
  service: Pick<HubService, 'on' | 'off'>;
  logger: Logger;
  clock: Clock;
  /**
   * An agent must be gone this long before agent_offline is recorded; agent_online is recorded only
   * when it comes back after that. A hub restart or a short network blip then sends no webhook at all.
   */
  offlineGraceMs?: number;
}

export type EventListener = (event: HubEvent) => void;

/** Rows read per pass when passing new events on. */
const PUMP_PAGE = 500;
/** Default retention: at a few hundred bytes per event, tens of MB at most. */
const DEFAULT_MAX_EVENTS = 100_000;
/** Retention runs once this many events arrived since the last run, not per event. */
const PRUNE_EVERY = 1000;
const DEFAULT_OFFLINE_GRACE_MS = 60_000;

/**
 * The hub's event feed. Records write their events inside their own
 * transaction (ingest.ts); the hub's own events (agent online/offline,
 * conflicts, players) are appended here. Either way, listeners (the SSE
 * stream, webhooks) learn of a row by reading the table after the last id
 * they were given: the store is the one source, so nothing is passed on
 * that was not committed, and nothing committed is skipped.
 */
export class EventLog {
  readonly #store: Store;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #listeners = new Set<EventListener>();
  readonly #closers = new Set<() => void>();
  readonly #unhook: (() => void)[] = [];
  #lastId: number;
  #prunedAt = 0;
  readonly #maxEvents: number;
  readonly #offlineGraceMs: number;
  /** Agents gone, whose grace runs: an online before it ends cancels the offline event. */
  readonly #goneSince = new Map<string, { at: number; grace: AbortController }>();
  /** Agents whose agent_offline was recorded: their next connection is recorded as agent_online. */
  readonly #recordedOffline = new Map<string, number>();
  #closed = false;

  constructor(opts: EventLogOptions) {
    this.#store = opts.store;
    this.#log = opts.logger.child({ component: 'events' });
    this.#clock = opts.clock;
    this.#lastId = this.#store.hubEvents.maxId();
    this.#maxEvents = opts.maxEvents ?? DEFAULT_MAX_EVENTS;
    this.#offlineGraceMs = opts.offlineGraceMs ?? DEFAULT_OFFLINE_GRACE_MS;
    this.#prune();
    const service = opts.service;
    const hook = <E extends keyof HubServiceEvents>(event: E, fn: (...args: HubServiceEvents[E]) => void) => {
      service.on(event, fn);
      this.#unhook.push(() => service.off(event, fn));
    };
    hook('alert', (a) => {
      // Agents' alerts were stored with their record; only the hub's own (ownership conflicts) are written here.
      if (a.kind === 'server_conflict') this.append({ at: a.at, kind: 'server_conflict', agentId: a.agentId, serverId: a.serverId, message: a.message, data: {} });
      else this.pump();
    });
    hook('backupRecorded', () => this.pump());
    hook('restoreCompleted', () => this.pump());
    hook('agentOnline', (agentId) => this.#agentOnline(agentId));
    hook('agentOffline', (agentId) => this.#agentOffline(agentId));
  }

  #agentOffline(agentId: string): void {
    if (this.#goneSince.has(agentId) || this.#recordedOffline.has(agentId)) return;
    const gone = { at: this.#clock.now(), grace: new AbortController() };
    this.#goneSince.set(agentId, gone);
    this.#clock.sleep(this.#offlineGraceMs, gone.grace.signal).then(() => {
      this.#goneSince.delete(agentId);
      this.#recordedOffline.set(agentId, gone.at);
      const s = Math.round(this.#offlineGraceMs / 1000);
      this.append({ at: this.#iso(), kind: 'agent_offline', agentId, serverId: null, message: `agent ${agentId} offline: no link for ${s} s`, data: { since: new Date(gone.at).toISOString() } });
    }, () => {
      // Only this grace's own entry: a newer one may already stand for a later disconnect.
      if (this.#goneSince.get(agentId) === gone) this.#goneSince.delete(agentId);
    });
  }

  #agentOnline(agentId: string): void {
    // Dropped at once, not when the aborted sleep settles: a disconnect in the same tick starts a new grace.
    this.#goneSince.get(agentId)?.grace.abort();
    this.#goneSince.delete(agentId);
    const since = this.#recordedOffline.get(agentId);
    if (since === undefined) return; // back within the grace (or first seen since the hub started): nothing to tell
    this.#recordedOffline.delete(agentId);
    const s = Math.round((this.#clock.now() - since) / 1000);
    this.append({ at: this.#iso(), kind: 'agent_online', agentId, serverId: null, message: `agent ${agentId} back after ${s} s offline`, data: { offlineSince: new Date(since).toISOString() } });
  }

  /** The newest event id (a new stream or webhook starts after it). */
  get lastId(): number {
    return this.#lastId;
  }

  /** Live subscribers (streams and webhook queues). */
  get subscribers(): number {
    return this.#listeners.size;
  }

  /** Stores one event and passes it on. A store failure is logged: an event must not fail what caused it. */
  append(e: NewHubEvent): HubEvent | null {
    if (this.#closed || !this.#store.open) return null;
    let stored: HubEvent;
    try {
      stored = this.#store.transaction(() => this.#store.hubEvents.append(e), 'event');
    } catch (err) {
      this.#log.error({ err, kind: e.kind, serverId: e.serverId }, 'could not store an event');
      return null;
    }
    this.pump();
    return stored;
  }

  /** Passes on every committed event not yet passed on. */
  pump(): void {
    if (this.#closed || !this.#store.open) return;
    for (;;) {
      let page: HubEvent[];
      try {
        page = this.#store.hubEvents.list({ since: this.#lastId, limit: PUMP_PAGE });
      } catch (err) {
        this.#log.warn({ err }, 'could not read new events; they are passed on with the next one');
        return;
      }
      for (const e of page) {
        this.#lastId = e.id;
        for (const l of this.#listeners) {
          try {
            l(e);
          } catch (err) {
            this.#log.error({ err, eventId: e.id }, 'event listener failed');
          }
        }
      }
      if (page.length < PUMP_PAGE) break;
    }
    if (this.#lastId - this.#prunedAt >= PRUNE_EVERY) this.#prune();
  }

  /** Keeps the newest maxEvents. A webhook behind the cut resumes at the oldest kept event (its cursor reads id > n). */
  #prune(): void {
    this.#prunedAt = this.#lastId;
    const cut = this.#lastId - this.#maxEvents;
    if (cut <= 0) return;
    try {
      const n = this.#store.transaction(() => this.#store.hubEvents.pruneThrough(cut), 'event-retention');
      if (n > 0) this.#log.info({ deleted: n, keep: this.#maxEvents }, 'old events deleted');
    } catch (err) {
      this.#log.warn({ err }, 'could not delete old events; tried again later');
    }
  }

  /** Live events from now on; `onClose` runs when the hub closes the log. Returns the unsubscribe. */
  subscribe(listener: EventListener, onClose?: () => void): () => void {
    this.#listeners.add(listener);
    if (onClose) this.#closers.add(onClose);
    return () => {
      this.#listeners.delete(listener);
      if (onClose) this.#closers.delete(onClose);
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const u of this.#unhook) u();
    for (const gone of this.#goneSince.values()) gone.grace.abort();
    const closers = [...this.#closers];
    this.#listeners.clear();
    this.#closers.clear();
    for (const c of closers) c();
  }

  #iso(): string {
    return new Date(this.#clock.now()).toISOString();
  }
}
