import { Gauge, type Registry } from 'prom-client';
import { serverStates } from '../protocol/index.ts';
import type { ServerView } from './service/types.ts';
import type { Store } from './store/index.ts';

/** Labels of every per-server series (design.md §10, fixed). */
const labelNames = ['server', 'agent', 'game'] as const;
type Labels = Record<(typeof labelNames)[number], string>;

export interface ServerMetricsDeps {
  registry: Registry;
  listServers: () => ServerView[];
  store: Store;
}

/**
 * Per-server gauges, read at scrape time from the hub's view of each server
 * (no second copy of the state to keep in step). A server that is forgotten
 * leaves the exposition with its next scrape.
 */
export function registerServerMetrics(deps: ServerMetricsDeps): void {
  const registers = [deps.registry];
  const labelsOf = (v: ServerView): Labels => ({ server: v.id, agent: v.agentId, game: v.game });
  // Each gauge is filled on collect; the list is read once per gauge, a cheap in-memory walk.
  const gauge = (name: string, help: string, fill: (g: Gauge<string>, v: ServerView) => void, extra: string[] = []) =>
    new Gauge({
      name,
      help,
      labelNames: [...labelNames, ...extra],
      registers,
      collect() {
        this.reset();
        for (const v of deps.listServers()) fill(this, v);
      },
    });

  gauge('reconsync_server_up', '1 while the server is running and answering (its agent connected), else 0', (g, v) => g.set(labelsOf(v), v.state === 'running' ? 1 : 0));
  gauge('reconsync_server_players', 'Players online, as the last status poll saw them', (g, v) => g.set(labelsOf(v), v.players.online));
  gauge('reconsync_server_state', 'The server\'s state: one series per state, 1 for the current one', (g, v) => {
    for (const state of serverStates) g.set({ ...labelsOf(v), state }, v.state === state ? 1 : 0);
  }, ['state']);
  gauge('reconsync_backup_last_success_timestamp_seconds', 'When the newest backup of the server was made (Unix seconds)', (g, v) => {
    const at = v.lastBackup ? Date.parse(v.lastBackup.createdAt) : NaN;
    if (Number.isFinite(at)) g.set(labelsOf(v), at / 1000);
  });
  gauge('reconsync_backup_last_size_bytes', 'Size of the newest backup of the server', (g, v) => {
    if (v.lastBackup) g.set(labelsOf(v), v.lastBackup.size);
  });
  gauge('reconsync_update_available', '1 when a newer game build is available, 0 when up to date (servers with update checks only)', (g, v) => {
    const info = deps.store.open ? deps.store.updates.get(v.id) : null;
    if (info) g.set(labelsOf(v), info.available ? 1 : 0);
  });
}
