import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { z } from 'zod';
import { VERSION } from '../lib/version.ts';
import { silentLogger, type Logger } from '../lib/logger.ts';
import { systemClock, type Clock } from '../protocol/index.ts';
import { HubConfigSchema, type HubConfig } from './config.ts';
import { EventLog } from './events/event-log.ts';
import { PlayerTracker } from './events/players.ts';
import type { EventsApiLimits } from './http/events-api.ts';
import { createHttpServer, type HttpLimits } from './http/server.ts';
import { LinkServer, type LinkTuning } from './link/link-server.ts';
import { createHubMetrics, type HubMetrics } from './metrics.ts';
import { registerServerMetrics } from './server-metrics.ts';
import { HubServiceImpl } from './service/hub-service.ts';
import type { WebhookLimits } from './webhooks/queue.ts';
import { Webhooks } from './webhooks/webhooks.ts';
import type { HubService } from './service/types.ts';
import { Store, type StoreOptions } from './store/index.ts';

/** A config as loadHubConfig returns it, or a plain object in the hub.yaml shape (tests). */
export type HubConfigInput = HubConfig | (z.input<typeof HubConfigSchema> & { configDir?: string });

/** Something started with the hub and stopped before it (the Discord bot). */
export type HubExtension = (hub: Hub) => Promise<{ close(): Promise<void> }> | { close(): Promise<void> };

export interface HubDeps {
  config: HubConfigInput;
  logger?: Logger;
  clock?: Clock;
  heartbeatMs?: number;
  deadAfterMs?: number;
  revocationPollMs?: number;
  /** Finer link limits (hello timeout, pending cap, auth throttle, malformed-frame budget). */
  link?: LinkTuning;
  http?: HttpLimits;
  /** Store tuning (busy timeouts, integrity check at open). */
  store?: StoreOptions;
  extensions?: HubExtension[];
  /** Events API and stream limits (heartbeat, slow-reader buffer, page sizes). */
  events?: Partial<EventsApiLimits>;
  /** Webhook retry timing (tests shorten it). */
  webhooks?: Partial<WebhookLimits>;
}

export interface Hub {
  /** http(s)://host:port; a wildcard listen host is shown as 127.0.0.1. */
  url: string;
  /** ws(s)://host:port/agent */
  agentUrl: string;
  port: number;
  config: HubConfig;
  service: HubService & HubServiceImpl;
  store: Store;
  metrics: HubMetrics;
  link: LinkServer;
  /** Alerts and outcomes as events (API, stream, webhooks). */
  events: EventLog;
  /** hub.yaml alerts.webhooks, one delivery queue each. */
  webhooks: Webhooks;
  /** Who is on each server (from status player names), and player_join/player_leave events. */
  players: PlayerTracker;
  close(): Promise<void>;
}

function normalizeConfig(input: HubConfigInput): HubConfig {
  const { configDir, configFile, ...rest } = input as HubConfigInput & { configDir?: string; configFile?: string };
  const parsed = HubConfigSchema.parse(rest);
  const dir = configDir ?? process.cwd();
  const r = (p: string) => path.resolve(dir, p);
  return Object.freeze({
    ...parsed,
    dataDir: r(parsed.dataDir),
    listen: { ...parsed.listen, tls: parsed.listen.tls ? { cert: r(parsed.listen.tls.cert), key: r(parsed.listen.tls.key) } : undefined },
    configDir: dir,
    configFile: configFile ?? path.join(dir, 'hub.yaml'),
  }) as HubConfig;
}

function displayHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Builds and starts a hub: store, sessions, RPC router, service, HTTP(S)
 * server. Listens on config.listen (port 0 picks a free port). No signals,
 * no process-wide state: main.ts does that.
 */
export async function createHub(deps: HubDeps): Promise<Hub> {
  const config = normalizeConfig(deps.config);
  const logger = (deps.logger ?? silentLogger).child({ component: 'hub' });
  const clock = deps.clock ?? systemClock;
  const store = Store.open(config.dataDir, deps.store);
  const metrics = createHubMetrics({ storeHealth: store.health });
  store.health.on('change', (faulty, fault) => {
    if (faulty) logger.error({ fault, dataDir: config.dataDir }, 'hub store is failing: records are not acknowledged and /healthz answers 503 until writes succeed again');
    else logger.info('hub store writes succeed again');
  });
  // Forgets made by the CLI reach the hub through the store, polled like token revocations.
  const service = new HubServiceImpl({ store, logger, clock, metrics, ...(deps.revocationPollMs !== undefined ? { ownershipPollMs: deps.revocationPollMs } : {}) });
  const link = new LinkServer({
    ...deps.link,
    ...(deps.heartbeatMs !== undefined ? { heartbeatMs: deps.heartbeatMs } : {}),
    ...(deps.deadAfterMs !== undefined ? { deadAfterMs: deps.deadAfterMs } : {}),
    ...(deps.revocationPollMs !== undefined ? { revocationPollMs: deps.revocationPollMs } : {}),
    store,
    metrics,
    logger,
    hubVersion: VERSION,
    trustProxy: config.listen.trustProxy,
    sink: service,
    handlers: { 'hub.ping': async () => ({ now: clock.now() }) },
  });
  service.bind(link.registry);
  const events = new EventLog({ store, service, logger, clock });
  const players = new PlayerTracker({ service, events, clock });
  registerServerMetrics({ registry: metrics.registry, listServers: () => service.listServers(), store });

  let server: Server;
  try {
    server = createHttpServer({
      ...deps.http,
      service,
      store,
      metrics,
      logger,
      apiToken: config.api.token,
      trustProxy: config.listen.trustProxy,
      tls: config.listen.tls,
      events: { log: events, store, clock, logger, players, ...(deps.events ? { limits: deps.events } : {}) },
      onUpgrade: link.handleUpgrade,
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.listen.port, config.listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    players.close();
    events.close();
    service.close();
    await link.close();
    store.close();
    throw err;
  }
  link.start();
  const webhooks = new Webhooks({
    hooks: config.alerts.webhooks, store, events, clock, logger, registry: metrics.registry, version: VERSION,
    ...(deps.webhooks ? { limits: deps.webhooks } : {}),
  });

  const port = (server.address() as AddressInfo).port;
  const scheme = config.listen.tls ? 'https' : 'http';
  const host = displayHost(config.listen.host);
  const started: { close(): Promise<void> }[] = [];
  let closing: Promise<void> | undefined;

  const hub: Hub = {
    url: `${scheme}://${host}:${port}`,
    agentUrl: `${scheme === 'https' ? 'wss' : 'ws'}://${host}:${port}/agent`,
    port,
    config,
    service,
    store,
    metrics,
    link,
    events,
    webhooks,
    players,
    close: () => {
      closing ??= (async () => {
        for (const ext of started.reverse()) {
          await ext.close().catch((err: unknown) => logger.warn({ err }, 'hub extension failed to close'));
        }
        // Ends the event streams: an open stream would otherwise hold server.close() until closeAllConnections.
        await webhooks.close();
        players.close();
        events.close();
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        await link.close();
        server.closeAllConnections();
        await serverClosed;
        service.close();
        store.close();
        logger.info('hub stopped');
      })();
      return closing;
    },
  };

  try {
    for (const ext of deps.extensions ?? []) started.push(await ext(hub));
  } catch (err) {
    await hub.close();
    throw err;
  }
  logger.info({ url: hub.url, dataDir: config.dataDir, tls: Boolean(config.listen.tls) }, 'hub listening');
  return hub;
}
