import type { Clock } from '../../protocol/index.ts';
import type { HubServiceEvents, ServerView } from '../service/types.ts';
import type { EventLog } from './event-log.ts';

export interface PlayerTrackerDeps {
  service: { on<E extends keyof HubServiceEvents>(e: E, l: (...a: HubServiceEvents[E]) => void): unknown; off<E extends keyof HubServiceEvents>(e: E, l: (...a: HubServiceEvents[E]) => void): unknown };
  events: EventLog;
  clock: Clock;
}

export interface OnlinePlayer {
  name: string;
  /** When the hub first saw the player in this session (ISO). */
  since: string;
  seconds: number;
}

/**
 * Player joins and leaves, from the difference between two status polls'
 * player names. Games whose query gives only a count (the profile's
 * query.players: counts, carried in the status as playerDetail) have no
 * names to follow: no events, and online() is null. The first status of a server after a hub start seeds
 * the list without events: those players did not just join.
 */
export class PlayerTracker {
  readonly #online = new Map<string, Map<string, number>>();
  readonly #d: PlayerTrackerDeps;
  readonly #onServer = (v: ServerView) => this.#observe(v);

  constructor(deps: PlayerTrackerDeps) {
    this.#d = deps;
    deps.service.on('server', this.#onServer);
  }

  /** Who is on and for how long, longest first; null when the hub has not seen the server's players. */
  online(serverId: string): OnlinePlayer[] | null {
    const m = this.#online.get(serverId);
    if (!m) return null;
    const now = this.#d.clock.now();
    return [...m].sort((a, b) => a[1] - b[1]).map(([name, since]) => ({ name, since: new Date(since).toISOString(), seconds: Math.max(0, Math.round((now - since) / 1000)) }));
  }

  close(): void {
    this.#d.service.off('server', this.#onServer);
  }

  #observe(v: ServerView): void {
    // An offline agent (or one yet to send a status) says nothing about who is on: keep the list until it reports.
    if (!v.agentOnline || v.updatedAt === null) return;
    if (v.playerDetail === 'counts') {
      // Whatever names such a status carries are not the game's (its profile says it gives none): no events.
      this.#online.delete(v.id);
      return;
    }
    const names = new Set(v.state === 'running' ? v.players.names : []);
    const now = this.#d.clock.now();
    const known = this.#online.get(v.id);
    if (!known) {
      this.#online.set(v.id, new Map([...names].map((n) => [n, now])));
      return;
    }
    const at = new Date(now).toISOString();
    for (const [name, since] of known) {
      if (names.has(name)) continue;
      known.delete(name);
      const sessionSeconds = Math.max(0, Math.round((now - since) / 1000));
      this.#d.events.append({ at, kind: 'player_leave', agentId: v.agentId, serverId: v.id, message: `${name} left after ${formatDuration(sessionSeconds)}`, data: { player: name, sessionSeconds } });
    }
    for (const name of names) {
      if (known.has(name)) continue;
      known.set(name, now);
      this.#d.events.append({ at, kind: 'player_join', agentId: v.agentId, serverId: v.id, message: `${name} joined`, data: { player: name } });
    }
  }
}

export function formatDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (h > 0) return `${h} h ${m} min`;
  if (m > 0) return `${m} min`;
  return `${seconds} s`;
}
