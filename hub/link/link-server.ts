import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { Logger } from '../../lib/logger.ts';
import { CloseCode, DEAD_AFTER_MS, HEARTBEAT_MS, MAX_FRAME_BYTES, type Clock, type Hello, type HubMethods } from '../../protocol/index.ts';
import type { Handlers } from '../../protocol/rpc-peer.ts';
import type { HubMetrics } from '../metrics.ts';
import type { Store } from '../store/index.ts';
import { DefaultInboundLimits } from './inbound-budget.ts';
import { SessionRegistry } from './registry.ts';
import { Session, type RecordEvt, type StateEvt } from './session.ts';
import { AuthThrottle } from './throttle.ts';
import { createUpgradeHandler } from './upgrade.ts';
import { stripUndefined } from '../../lib/strip-undefined.ts';

/** Where a session's traffic goes once it is authenticated (the service layer). */
export interface LinkSink {
  /** Returns the highest record seq stored for the agent (welcome.ackedSeq). */
  hello(session: Session, hello: Hello): number;
  state(session: Session, evt: StateEvt): void;
  /** Persists the record idempotently; returns the cumulative seq to ack. */
  record(session: Session, evt: RecordEvt): number;
}

export interface LinkTuning {
  heartbeatMs?: number;
  deadAfterMs?: number;
  revocationPollMs?: number;
  helloTimeoutMs?: number;
  maxPendingUpgrades?: number;
  malformedPerMinute?: number;
  /** Bytes queued for one agent before it counts as not reading and is cut (see Session). */
  maxBufferedBytes?: number;
  authFailuresPerMinute?: number;
  authFailureWindowMs?: number;
  /** What one agent may send per second before the hub reads it more slowly (inbound-budget.ts). */
  inboundFramesPerSecond?: number;
  inboundFrameBurst?: number;
  inboundBytesPerSecond?: number;
  inboundByteBurst?: number;
}

export const DefaultLinkTuning = {
  heartbeatMs: HEARTBEAT_MS,
  deadAfterMs: DEAD_AFTER_MS,
  revocationPollMs: 1000,
  helloTimeoutMs: 5000,
  maxPendingUpgrades: 1024,
  malformedPerMinute: 20,
  // Four full frames: room for a burst of answers, far below what hurts the hub (issue 10 §4).
  maxBufferedBytes: 4 * MAX_FRAME_BYTES,
  authFailuresPerMinute: 10,
  authFailureWindowMs: 60_000,
  inboundFramesPerSecond: DefaultInboundLimits.framesPerSecond,
  inboundFrameBurst: DefaultInboundLimits.frameBurst,
  inboundBytesPerSecond: DefaultInboundLimits.bytesPerSecond,
  inboundByteBurst: DefaultInboundLimits.byteBurst,
} satisfies Required<LinkTuning>;

export interface LinkServerOptions extends LinkTuning {
  store: Store;
  metrics: HubMetrics;
  logger: Logger;
  hubVersion: string;
  trustProxy: boolean;
  /** Built first (createSessionRegistry) and shared: the services read the sessions this server fills. */
  registry: SessionRegistry;
  sink: LinkSink;
  handlers: Handlers<HubMethods>;
}

/**
 * The session registry for these link options (defaults applied). Built before the link server and the hub's
 * services, so both get it complete: the link server fills it, the services read it.
 */
export function createSessionRegistry(options: LinkTuning & { store: Store; logger: Logger; clock?: Clock }): SessionRegistry {
  const opts = { ...DefaultLinkTuning, ...stripUndefined(options) };
  return new SessionRegistry({
    store: options.store,
    logger: options.logger,
    heartbeatMs: opts.heartbeatMs,
    deadAfterMs: opts.deadAfterMs,
    revocationPollMs: opts.revocationPollMs,
    ...(options.clock ? { clock: options.clock } : {}),
  });
}

/** The agent endpoint: upgrade checks, sessions, heartbeats, revocation. */
export class LinkServer {
  readonly registry: SessionRegistry;
  readonly throttle: AuthThrottle;
  readonly handleUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  readonly #wss: WebSocketServer;
  readonly #opts: LinkServerOptions & Required<LinkTuning>;

  constructor(options: LinkServerOptions) {
    const opts = { ...DefaultLinkTuning, ...stripUndefined(options) } as LinkServerOptions & Required<LinkTuning>;
    this.#opts = opts;
    // Compression off: ~25x the memory per connection for small JSON frames (perf-notes.md).
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false, clientTracking: false });
    const clock = opts.registry.clock;
    this.throttle = new AuthThrottle({ maxFailures: opts.authFailuresPerMinute, windowMs: opts.authFailureWindowMs, now: () => clock.now() });
    this.registry = opts.registry;
    this.registry.on('online', () => opts.metrics.connectedAgents.inc());
    this.registry.on('offline', () => opts.metrics.connectedAgents.dec());
    this.handleUpgrade = createUpgradeHandler({
      wss: this.#wss,
      store: opts.store,
      throttle: this.throttle,
      metrics: opts.metrics,
      logger: opts.logger,
      trustProxy: opts.trustProxy,
      maxPending: opts.maxPendingUpgrades,
      awaitingHello: () => this.registry.awaitingHello(),
      onConnection: (ws, peer) => {
        const session = new Session({
          ws,
          ...peer,
          hooks: this.#hooks,
          handlers: opts.handlers,
          metrics: opts.metrics,
          logger: opts.logger,
          hubVersion: opts.hubVersion,
          heartbeatMs: opts.heartbeatMs,
          helloTimeoutMs: opts.helloTimeoutMs,
          malformedPerMinute: opts.malformedPerMinute,
          maxBufferedBytes: opts.maxBufferedBytes,
          inbound: { framesPerSecond: opts.inboundFramesPerSecond, frameBurst: opts.inboundFrameBurst, bytesPerSecond: opts.inboundBytesPerSecond, byteBurst: opts.inboundByteBurst },
          onRpcSettled: opts.metrics.rpcSettled,
          clock: this.registry.clock,
        });
        this.registry.add(session);
      },
    });
  }

  readonly #hooks = {
    hello: (session: Session, hello: Hello): number => this.#opts.sink.hello(session, hello),
    opened: (session: Session) => this.registry.register(session),
    state: (session: Session, evt: StateEvt) => this.#opts.sink.state(session, evt),
    record: (session: Session, evt: RecordEvt) => this.#opts.sink.record(session, evt),
    closed: (session: Session) => this.registry.remove(session),
  };

  start(): void {
    this.registry.start();
  }

  async close(): Promise<void> {
    this.registry.stop();
    await this.registry.closeAll(CloseCode.GoingAway, 'hub shutting down');
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }
}

