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
import { LinkServer, createSessionRegistry, type LinkTuning } from './link/link-server.ts';
import { createHubMetrics, type HubMetrics } from './metrics.ts';
import { registerServerMetrics } from './server-metrics.ts';
import type { HubServiceImpl } from './service/hub-service.ts';
import { createHubServices } from './service/services.ts';
import type { WebhookLimits } from './webhooks/queue.ts';
import { Webhooks } from './webhooks/webhooks.ts';
import type { HubService } from './service/types.ts';
import { Store, type StoreOptions } from './store/index.ts';
import { takeHubLock, type HubInstanceLock } from './store/instance-lock.ts';

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
  /** Retention of each agent's raw delivery log (tests shorten it). */
  records?: { kept?: number; trimEvery?: number; catalogKept?: number };
}

export interface HubAddress {
  /** http(s)://host:port; a wildcard listen host is shown as 127.0.0.1. */
  url: string;
  /** ws(s)://host:port/agent */
  agentUrl: string;
  port: number;
}

/** A hub as createHub builds it: every part wired, no port bound, nothing running. */
export interface BuiltHub {
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
  /**
   * Binds config.listen (port 0 picks a free port), starts the periodic work (liveness, revocations, snapshot
   * writes, ownership poll, webhook deliveries) and the extensions; resolves with this hub, its address filled in.
   * Called again, it answers the same. A failed bind leaves the hub built (close() it, or listen again); a failing
   * extension closes the hub.
   */
  listen(): Promise<Hub>;
  /** Stops everything and closes the store, whether or not listen() ran; idempotent. */
  close(): Promise<void>;
}

/** A listening hub: startHub, or createHub then listen(). */
export type Hub = BuiltHub & Readonly<HubAddress>;

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
 * Builds a hub: store, sessions, RPC router, services, HTTP(S) server, all
 * complete and wired, with no port bound and nothing running (fastify's
 * build/listen split: tests and tools get the parts without a socket).
 * `listen()` starts it; `startHub` does both. No signals, no process-wide
 * state: main.ts does that.
 */
export async function createHub(deps: HubDeps): Promise<BuiltHub> {
  const config = normalizeConfig(deps.config);
  const logger = (deps.logger ?? silentLogger).child({ component: 'hub' });
  const clock = deps.clock ?? systemClock;
  if (config.discord?.offlineGraceMs !== undefined) {
    logger.warn(config.alerts.offlineGraceMs === undefined ? 'discord.offlineGraceMs is deprecated: move it to alerts.offlineGraceMs (one grace for Discord, the API and webhooks)' : 'discord.offlineGraceMs is deprecated and ignored: alerts.offlineGraceMs is set');
  }
  // Taken before the store is touched, held until close(): one hub per dataDir.
  const lock = takeHubLock(config.dataDir);
  let store: Store;
  try {
    store = Store.open(config.dataDir, deps.store);
  } catch (err) {
    lock.release();
    throw err;
  }
  try {
    return build(deps, config, logger, clock, store, lock);
  } catch (err) {
    store.close();
    lock.release();
    throw err;
  }
}

/** createHub, then listen(): the one-liner for main, tests, bench and the demo. A failed listen closes the hub. */
export async function startHub(deps: HubDeps): Promise<Hub> {
  const built = await createHub(deps);
  try {
    return await built.listen();
  } catch (err) {
    await built.close();
    throw err;
  }
}

function build(deps: HubDeps, config: HubConfig, logger: Logger, clock: Clock, store: Store, lock: HubInstanceLock): BuiltHub {
  const metrics = createHubMetrics({ storeHealth: store.health });
  store.health.on('change', (faulty, fault) => {
    if (faulty) logger.error({ fault, dataDir: config.dataDir }, 'hub store is failing: records are not acknowledged and /healthz answers 503 until writes succeed again');
    else logger.info('hub store writes succeed again');
  });
  const tuning = {
    ...deps.link,
    ...(deps.heartbeatMs !== undefined ? { heartbeatMs: deps.heartbeatMs } : {}),
    ...(deps.deadAfterMs !== undefined ? { deadAfterMs: deps.deadAfterMs } : {}),
    ...(deps.revocationPollMs !== undefined ? { revocationPollMs: deps.revocationPollMs } : {}),
  };
  // Built first: the link server fills it, the services read it, so neither needs the other to exist.
  const registry = createSessionRegistry({ ...tuning, store, logger, clock });
  // Forgets made by the CLI reach the hub through the store, polled like token revocations.
  const services = createHubServices({
    store, logger, clock, metrics, registry,
    ...(deps.revocationPollMs !== undefined ? { ownershipPollMs: deps.revocationPollMs } : {}),
    ...(deps.records ? { records: deps.records } : {}),
  });
  const { service } = services;
  const link = new LinkServer({
    ...tuning,
    store,
    metrics,
    logger,
    hubVersion: VERSION,
    trustProxy: config.listen.trustProxy,
    registry,
    sink: services.sink,
    handlers: { 'hub.ping': async () => ({ now: clock.now() }) },
  });
  const offlineGraceMs = config.alerts.offlineGraceMs ?? config.discord?.offlineGraceMs;
  const events = new EventLog({ store, service, logger, clock, ...(offlineGraceMs !== undefined ? { offlineGraceMs } : {}) });
  const players = new PlayerTracker({ service, events, clock });
  registerServerMetrics({ registry: metrics.registry, listServers: () => service.listServers(), store });
  // Built here, started by listen(): a queue starts delivering (outbound HTTP) the moment it starts.
  const webhooks = new Webhooks({
    hooks: config.alerts.webhooks, store, events, clock, logger, registry: metrics.registry, version: VERSION,
    ...(deps.webhooks ? { limits: deps.webhooks } : {}),
  });
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
  } catch (err) {
    // A TLS file that cannot be read: undo the subscriptions and timers of what was built.
    players.close();
    events.close();
    services.close();
    throw err;
  }

  const started: { close(): Promise<void> }[] = [];
  let listening: Promise<Hub> | undefined;
  let closing: Promise<void> | undefined;
  let stopped: Promise<void> | undefined;
  const stopOnce = (): Promise<void> => (stopped ??= shutdown());

  async function shutdown(): Promise<void> {
    for (const ext of started.reverse()) {
      await ext.close().catch((err: unknown) => logger.warn({ err }, 'hub extension failed to close'));
    }
    // Ends the event streams: an open stream would otherwise hold server.close() until closeAllConnections.
    await webhooks.close();
    players.close();
    events.close();
    const serverClosed = server.listening ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    await link.close();
    server.closeAllConnections();
    await serverClosed;
    services.close();
    store.close();
    lock.release();
    logger.info('hub stopped');
  }

  const start = async (): Promise<Hub> => {
    await bind(server, config.listen.host, config.listen.port);
    link.start();
    services.start();
    webhooks.start();
    const port = (server.address() as AddressInfo).port;
    const scheme = config.listen.tls ? 'https' : 'http';
    const host = displayHost(config.listen.host);
    const address: HubAddress = { url: `${scheme}://${host}:${port}`, agentUrl: `${scheme === 'https' ? 'wss' : 'ws'}://${host}:${port}/agent`, port };
    const hub: Hub = Object.assign(built, address);
    try {
      for (const ext of deps.extensions ?? []) started.push(await ext(hub));
    } catch (err) {
      // Not through close(): it waits for this listen() to settle.
      closing ??= stopOnce();
      await stopOnce();
      throw err;
    }
    logger.info({ url: hub.url, dataDir: config.dataDir, tls: Boolean(config.listen.tls) }, 'hub listening');
    return hub;
  };

  const built: BuiltHub = {
    config,
    service,
    store,
    metrics,
    link,
    events,
    webhooks,
    players,
    listen: () => {
      if (closing) return Promise.reject(new Error('the hub is closed; create a new one to listen again'));
      listening ??= start().catch((err: unknown) => {
        // A failed bind started nothing: the hub stays built, so a caller may listen again or close it.
        if (!closing) listening = undefined;
        throw err;
      });
      return listening;
    },
    close: () => {
      // A close during listen() waits for it, so an extension it is starting is closed too.
      closing ??= (async () => {
        await listening?.catch(() => {});
        await stopOnce();
      })();
      return closing;
    },
  };
  return built;
}

function bind(server: Server, host: string, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
