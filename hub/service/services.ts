import type { Logger } from '../../lib/logger.ts';
import type { Clock } from '../../protocol/index.ts';
import type { SessionRegistry } from '../link/registry.ts';
import type { HubMetrics } from '../metrics.ts';
import { RpcRouter } from '../rpc/router.ts';
import type { Store } from '../store/index.ts';
import { HubServiceImpl } from './hub-service.ts';
import { HubState } from './hub-state.ts';
import { Ownership } from './ownership.ts';
import { ReportSink } from './report-sink.ts';

export interface HubServicesOptions {
  store: Store;
  logger: Logger;
  clock: Clock;
  metrics: HubMetrics;
  /** Built before the link server, which fills it: the services only read it. */
  registry: SessionRegistry;
  /** Status snapshots are written behind, batched, at most this often. */
  snapshotFlushMs?: number;
  /** How often forgets made by the CLI (another process) are picked up. */
  ownershipPollMs?: number;
  /** The raw delivery log's retention per agent (ReportSink). */
  records?: { kept?: number; trimEvery?: number; catalogKept?: number };
}

export interface HubServices {
  /** Commands and queries (HTTP API, Discord), and the events their consumers subscribe to. */
  service: HubServiceImpl;
  /** What agents report (the link server's sink). */
  sink: ReportSink;
  /** Starts the periodic work: snapshot writes, the ownership poll. */
  start(): void;
  /** Stops it and writes what is pending; safe whether or not start() ran. */
  close(): void;
}

/**
 * Builds the hub's services complete, in dependency order: shared state on
 * the session registry, then ownership and the RPC router, the command
 * service (the one emitter), and the report sink that emits through it.
 */
export function createHubServices(options: HubServicesOptions): HubServices {
  const { store, logger, clock, metrics, registry } = options;
  const state = new HubState({ store, logger, clock, registry });
  const ownership = new Ownership({
    store,
    directory: state.directory,
    logger,
    now: () => state.iso(),
    session: (agentId) => state.liveSession(agentId),
    dropped: (serverId) => state.drop(serverId),
    ...(options.ownershipPollMs !== undefined ? { pollMs: options.ownershipPollMs } : {}),
  });
  const router = new RpcRouter({ registry, resolveServer: (serverId) => state.directory.agentOf(serverId), metrics });
  const service = new HubServiceImpl({ state, router, ownership });
  const sink = new ReportSink({
    state,
    ownership,
    registry,
    metrics,
    events: service,
    ...(options.snapshotFlushMs !== undefined ? { snapshotFlushMs: options.snapshotFlushMs } : {}),
    ...(options.records?.kept !== undefined ? { recordsKept: options.records.kept } : {}),
    ...(options.records?.trimEvery !== undefined ? { recordsTrimEvery: options.records.trimEvery } : {}),
    ...(options.records?.catalogKept !== undefined ? { catalogKept: options.records.catalogKept } : {}),
  });
  return {
    service,
    sink,
    start: () => {
      sink.start();
      ownership.start();
    },
    close: () => {
      ownership.stop();
      sink.close();
    },
  };
}
