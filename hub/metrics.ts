import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * One registry per hub (never prom-client's global one), so several hubs in a
 * test process do not collide. The Discord adapter increments its own
 * counters here too.
 */
export interface HubMetrics {
  registry: Registry;
  connectedAgents: Gauge;
  rpcTotal: Counter<'method' | 'outcome'>;
  rpcLatency: Histogram<'method'>;
  framesIn: Counter<'type'>;
  framesOut: Counter<'type'>;
  malformedFrames: Counter;
  recordEvents: Counter<'topic' | 'outcome'>;
  backupsTotal: Counter<'outcome'>;
  upgradeRejections: Counter<'status'>;
  discordEdits: Counter<'outcome'>;
  discordRateLimited: Counter;
  discordStatusMessages: Gauge;
}

export function createHubMetrics(opts: { defaultMetrics?: boolean } = {}): HubMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'reconsync_hub_' });
  const registers = [registry];
  return {
    registry,
    connectedAgents: new Gauge({ name: 'reconsync_connected_agents', help: 'Agents with a live session', registers }),
    rpcTotal: new Counter({ name: 'reconsync_rpc_total', help: 'RPCs from the hub to agents, by method and outcome (ok or error code)', labelNames: ['method', 'outcome'], registers }),
    rpcLatency: new Histogram({
      name: 'reconsync_rpc_duration_seconds',
      help: 'RPC latency from the hub to agents',
      labelNames: ['method'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600, 3600],
      registers,
    }),
    framesIn: new Counter({ name: 'reconsync_frames_in_total', help: 'Frames received from agents, by type', labelNames: ['type'], registers }),
    framesOut: new Counter({ name: 'reconsync_frames_out_total', help: 'Frames sent to agents, by type', labelNames: ['type'], registers }),
    malformedFrames: new Counter({ name: 'reconsync_frames_malformed_total', help: 'Frames from agents that failed validation', registers }),
    recordEvents: new Counter({ name: 'reconsync_record_events_total', help: 'Record events from agents, by topic and outcome (accepted or duplicate)', labelNames: ['topic', 'outcome'], registers }),
    backupsTotal: new Counter({ name: 'reconsync_backups_total', help: 'Backups reported by agents, by outcome', labelNames: ['outcome'], registers }),
    upgradeRejections: new Counter({ name: 'reconsync_upgrade_rejections_total', help: 'Refused WebSocket upgrades, by HTTP status', labelNames: ['status'], registers }),
    discordEdits: new Counter({ name: 'reconsync_discord_edits_total', help: 'Discord message edits, by outcome', labelNames: ['outcome'], registers }),
    discordRateLimited: new Counter({ name: 'reconsync_discord_rate_limited_total', help: 'Discord 429 answers honoured', registers }),
    discordStatusMessages: new Gauge({ name: 'reconsync_discord_status_messages', help: 'Live Discord status messages kept up to date', registers }),
  };
}
