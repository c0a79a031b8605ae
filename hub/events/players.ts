import type { Clock } from '../../protocol/index.ts';
import type { HubServiceEvents, ServerView } from '../service/types.ts';
import type { EventLog } from './event-log.ts';

export interface PlayerTrackerDeps {
  service: { on<E extends keyof HubServiceEvents>(e: E, l: (...a: HubServiceEvents[E]) => void): unknown; off<E extends keyof HubServiceEvents>(e: E, l: (...a: HubServiceEvents[E]) => void): unknown };
  events: EventLog;
  clock: Clock;
}

/**
 * Join/leave events one server may add per minute (a full 100-slot server turning over
 * entirely twice a minute still fits). An agent can send statuses at any rate with up to
 * 512 names each; without a budget it could fill the event log, whose retention is
 * global, and push every other server's crashes and backups out of it, and flood the
 * webhooks and the events channel.
 */
export const PLAYER_EVENTS_PER_MINUTE = 400;

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
  /** Per server: the event budget left and when it was last refilled (a token bucket). */
  readonly #budget = new Map<string, { left: number; at: number }>();
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
    const budget = this.#refill(v.id, now);
    // Over budget, the list still follows the status (so /players stays right and no burst comes later); only the events are left out.
    const spend = (): boolean => {
      if (budget.left < 1) return false;
      budget.left -= 1;
      return true;
    };
    for (const [name, since] of known) {
      if (names.has(name)) continue;
      known.delete(name);
      if (!spend()) continue;
      const sessionSeconds = Math.max(0, Math.round((now - since) / 1000));
      this.#d.events.append({ at, kind: 'player_leave', agentId: v.agentId, serverId: v.id, message: `${name} left after ${formatDuration(sessionSeconds)}`, data: { player: name, sessionSeconds } });
    }
    for (const name of names) {
      if (known.has(name)) continue;
      known.set(name, now);
      if (!spend()) continue;
      this.#d.events.append({ at, kind: 'player_join', agentId: v.agentId, serverId: v.id, message: `${name} joined`, data: { player: name } });
    }
  }

  #refill(serverId: string, now: number): { left: number; at: number } {
    const b = this.#budget.get(serverId) ?? { left: PLAYER_EVENTS_PER_MINUTE, at: now };
    b.left = Math.min(PLAYER_EVENTS_PER_MINUTE, b.left + ((now - b.at) / 60_000) * PLAYER_EVENTS_PER_MINUTE);
    b.at = now;
    this.#budget.set(serverId, b);
    return b;
  }
}

export function formatDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (h > 0) return `${h} h ${m} min`;
  if (m > 0) return `${m} min`;
  return `${seconds} s`;
}
