import { Counter, Gauge, Registry, collectDefaultMetrics, type CounterConfiguration } from 'prom-client';
import { CounterTally, FastHistogram } from './hot-metrics.ts';
import type { StoreHealth } from './store/health.ts';

/**
 * One registry per hub (never prom-client's global one), so several hubs in a
 * test process do not collide. The Discord adapter increments its own
 * counters here too.
 */
export interface HubMetrics {
  registry: Registry;
  connectedAgents: Gauge;
  rpcTotal: Counter<'method' | 'outcome'>;
  /** Labelled by method; see hot-metrics.ts (prom-client's exposition, cheaper to observe). */
  rpcLatency: FastHistogram;
  framesIn: Counter<'type'>;
  framesOut: Counter<'type'>;
  malformedFrames: Counter;
  recordEvents: Counter<'topic' | 'outcome'>;
  backupsTotal: Counter<'outcome'>;
  upgradeRejections: Counter<'status'>;
  /** Sessions cut because the agent stopped reading (outgoing buffer over its limit). */
  slowPeersClosed: Counter;
  /** Times an agent socket stopped being read for a while: the agent sent faster than its inbound budget. */
  inboundPaused: Counter;
  /** Failed store operations, by operation and SQLite code. */
  storeErrors: Counter<'op' | 'code'>;
  /** 1 while no store operation is failing, else 0. */
  storeUp: Gauge;
  discordEdits: Counter<'outcome'>;
  discordRateLimited: Counter;
  discordStatusMessages: Gauge;
  /**
   * Hot-path recording (every frame, every RPC): cheaper than `labels().inc()`,
   * and what prom-client reports is the same, since the counters above drain
   * these tallies whenever they are collected.
   */
  frameIn(type: string): void;
  frameOut(type: string): void;
  /** One RPC from the hub reached an end: counts it in rpcTotal and its latency in rpcLatency. */
  rpcSettled(method: string, outcome: string, ms: number): void;
}

/** A prom-client counter whose hot-path increments go through a tally, drained on every collection. */
function talliedCounter<L extends string>(config: CounterConfiguration<L> & { labelNames: readonly L[] }): { counter: Counter<L>; tally: CounterTally<L> } {
  let tally: CounterTally<L> | undefined;
  const counter = new Counter<L>({
    ...config,
    collect() {
      tally?.drain();
    },
  });
  tally = new CounterTally(counter, config.labelNames);
  return { counter, tally };
}

/**
 * prom-client's defaults include gauges named `nodejs_active_{handles,requests,resources}_total`
 * (sums of the labelled `nodejs_active_*` gauges beside them). `_total` is reserved for counters,
 * so `promtool check metrics` fails the whole exposition on them: drop every such non-counter.
 */
function dropMisnamedGauges(registry: Registry): void {
  for (const metric of registry.getMetricsAsArray()) {
    const { name, type } = metric as unknown as { name: string; type: string };
    if (type !== 'counter' && name.endsWith('_total')) registry.removeSingleMetric(name);
  }
}

export function createHubMetrics(opts: { defaultMetrics?: boolean; storeHealth?: StoreHealth } = {}): HubMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry, prefix: 'reconsync_hub_' });
    dropMisnamedGauges(registry);
  }
  const registers = [registry];
  const rpcTotal = talliedCounter({ name: 'reconsync_rpc_total', help: 'RPCs from the hub to agents, by method and outcome (ok or error code)', labelNames: ['method', 'outcome'], registers });
  const framesIn = talliedCounter({ name: 'reconsync_frames_in_total', help: 'Frames received from agents, by type', labelNames: ['type'], registers });
  const framesOut = talliedCounter({ name: 'reconsync_frames_out_total', help: 'Frames sent to agents, by type', labelNames: ['type'], registers });
  const rpcLatency = new FastHistogram({
    name: 'reconsync_rpc_duration_seconds',
    help: 'RPC latency from the hub to agents',
    labelName: 'method',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600, 3600],
    registers,
  });
  const storeHealth = opts.storeHealth;
  const storeErrors = new Counter({ name: 'reconsync_store_errors_total', help: 'Failed hub store operations, by operation and SQLite error code', labelNames: ['op', 'code'], registers });
  storeHealth?.on('failure', (f) => storeErrors.labels(f.op, f.code).inc());
  return {
    registry,
    connectedAgents: new Gauge({ name: 'reconsync_connected_agents', help: 'Agents with a live session', registers }),
    rpcTotal: rpcTotal.counter,
    rpcLatency,
    framesIn: framesIn.counter,
    framesOut: framesOut.counter,
    malformedFrames: new Counter({ name: 'reconsync_frames_malformed_total', help: 'Frames from agents that failed validation', registers }),
    recordEvents: new Counter({ name: 'reconsync_record_events_total', help: 'Record events from agents, by topic and outcome (accepted or duplicate)', labelNames: ['topic', 'outcome'], registers }),
    backupsTotal: new Counter({ name: 'reconsync_backups_total', help: 'Backups reported by agents, by outcome', labelNames: ['outcome'], registers }),
    upgradeRejections: new Counter({ name: 'reconsync_upgrade_rejections_total', help: 'Refused WebSocket upgrades, by HTTP status', labelNames: ['status'], registers }),
    slowPeersClosed: new Counter({ name: 'reconsync_link_slow_peers_closed_total', help: 'Agent sessions closed because the agent did not read what the hub sent', registers }),
    inboundPaused: new Counter({ name: 'reconsync_link_inbound_paused_total', help: 'Times the hub stopped reading an agent for a while because it sent faster than its inbound budget', registers }),
    storeErrors,
    storeUp: new Gauge({
      name: 'reconsync_store_up',
      help: '1 while hub store operations succeed, 0 while one is failing (see /healthz for the reason)',
      registers,
      collect() {
        // Read at scrape time: a failure ages out of StoreHealth without an event.
        this.set(storeHealth?.faulty ? 0 : 1);
      },
    }),
    discordEdits: new Counter({ name: 'reconsync_discord_edits_total', help: 'Discord message edits, by outcome', labelNames: ['outcome'], registers }),
    discordRateLimited: new Counter({ name: 'reconsync_discord_rate_limited_total', help: 'Discord 429 answers honoured', registers }),
    discordStatusMessages: new Gauge({ name: 'reconsync_discord_status_messages', help: 'Live Discord status messages kept up to date', registers }),
    frameIn: (type) => framesIn.tally.add1(type),
    frameOut: (type) => framesOut.tally.add1(type),
    rpcSettled: (method, outcome, ms) => {
      rpcTotal.tally.add2(method, outcome);
      rpcLatency.observe(method, ms / 1000);
    },
  };
}

