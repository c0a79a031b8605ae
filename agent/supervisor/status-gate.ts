import type { Resources, ServerState, ServerStatus } from '../../protocol/index.ts';
import type { QueryResult, ResolvedServer } from '../types.ts';

const noPlayers = { online: 0, max: 0, names: [] as string[] };

/** What the supervisor knows of one server, as the status it reports. */
export interface StatusParts {
  server: ResolvedServer;
  managed: boolean;
  state: ServerState;
  lastQuery: QueryResult | null;
  resources: Resources;
  lastBackup: ServerStatus['lastBackup'];
  message: string | undefined;
  /** ISO time. */
  at: string;
}

export function buildStatus(p: StatusParts): ServerStatus {
  return {
    id: p.server.id,
    game: p.server.profile.id,
    name: p.server.name,
    managed: p.managed,
    state: p.state,
    // Players only while it runs: the last answer of a game that stopped is stale.
    players: p.state === 'running' && p.lastQuery ? p.lastQuery.players : noPlayers,
    map: p.lastQuery?.map ?? null,
    version: p.lastQuery?.version ?? null,
    resources: p.resources,
    lastBackup: p.lastBackup,
    ...(p.message !== undefined ? { message: p.message } : {}),
    updatedAt: p.at,
  };
}

/**
 * Coalesces status events (design.md §5: status is newest-wins state): let one
 * through when something a viewer sees changed, or when the slow heartbeat is
 * due. Resource figures alone do not count: CPU moves every sample.
 */
export class StatusGate {
  readonly #heartbeatMs: number;
  #key = '';
  #at = Number.NEGATIVE_INFINITY;

  constructor(heartbeatMs: number) {
    this.#heartbeatMs = heartbeatMs;
  }

  /** True when `status` should be sent at `now`; remembers it as sent. */
  pass(status: ServerStatus, now: number): boolean {
    const key = JSON.stringify([status.state, status.players, status.map, status.version, status.lastBackup, status.message, status.managed]);
    if (key === this.#key && now - this.#at < this.#heartbeatMs) return false;
    this.#key = key;
    this.#at = now;
    return true;
  }
}
