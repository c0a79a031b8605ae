import type { ClientOptions } from 'ws';
import { DEAD_AFTER_MS, HEARTBEAT_MS, systemClock, type AgentMethods, type Clock, type ServerSummary, type Welcome } from '../../protocol/index.ts';
import type { Handlers } from '../../protocol/rpc-peer.ts';
import { silentLogger, type Logger } from '../../lib/logger.ts';
import type { BackoffOptions } from '../../lib/backoff.ts';
import type { LinkEnd } from './close-policy.ts';
import type { OutboxOptions } from './outbox.ts';

/** AgentLink's options, defaults and typed events: one place (style.md §2, §4). */

/** Event names (style.md §4); the map below gives each one's arguments. */
export const AgentLinkEvents = {
  Connected: 'connected',
  Disconnected: 'disconnected',
  Welcome: 'welcome',
  Stopped: 'stopped',
} as const;

export interface LinkConnected { sessionId: string; hubVersion: string }
export interface LinkDisconnected { reason: string; message: string; end: LinkEnd | null; retryInMs: number | null }
/** The link gave up (close policy said stop) or was closed by us (`reason: 'closed'`). */
export interface LinkStopped { reason: string; message: string; end: LinkEnd | null }

export interface AgentLinkEventsMap {
  connected: [info: LinkConnected];
  disconnected: [info: LinkDisconnected];
  welcome: [welcome: Welcome];
  stopped: [info: LinkStopped];
}

export interface AgentLinkRequiredOptions {
  /** ws:// or wss:// URL of the hub's /agent endpoint. */
  url: string;
  token: string;
  agentId: string;
  agentVersion: string;
  /** The outbox lives in dataDir/outbox. */
  dataDir: string;
  /** Read at every hello, so servers added since the last connect are announced. */
  servers: () => ServerSummary[];
  handlers: Handlers<AgentMethods>;
}

export interface AgentLinkOptionalOptions {
  logger: Logger;
  clock: Clock;
  /** Uniform in [0, 1): jitter source for backoff and slow retries. */
  random: () => number;
  /** Ping the hub this often; also the resolution of dead-peer detection. */
  heartbeatMs: number;
  /** Nothing heard (pong or message) for this long: the hub is dead, reconnect. */
  deadAfterMs: number;
  /** A connect attempt that does not open within this is aborted. */
  openTimeoutMs: number;
  /** An open socket that brings no welcome within this is aborted. */
  welcomeTimeoutMs: number;
  /** close(): wait this long for the hub's close frame, then cut the socket. */
  closeTimeoutMs: number;
  /** After HTTP 401 wait between half and all of this before trying again. */
  unauthorizedRetryMs: number;
  capabilities: string[];
  /** PEM file with an extra CA for a hub behind a private certificate. */
  ca: string | undefined;
  backoff: Partial<Omit<BackoffOptions, 'random' | 'jitter'>>;
  outbox: Partial<Omit<OutboxOptions, 'logger' | 'onDurable' | 'clock'>>;
  /** Passed to `ws`; the link sets headers, compression and maxPayload itself. */
  wsOptions: Omit<ClientOptions, 'headers' | 'perMessageDeflate' | 'maxPayload'>;
}

export type AgentLinkOptions = AgentLinkRequiredOptions & Partial<AgentLinkOptionalOptions>;

export const DefaultAgentLinkOptions = {
  logger: silentLogger,
  clock: systemClock,
  random: Math.random,
  heartbeatMs: HEARTBEAT_MS,
  deadAfterMs: DEAD_AFTER_MS,
  openTimeoutMs: 15_000,
  welcomeTimeoutMs: 10_000,
  closeTimeoutMs: 2_000,
  unauthorizedRetryMs: 60_000,
  capabilities: ['outbox', 'rpc.dedupe', 'cancel'],
  ca: undefined,
  backoff: {},
  outbox: {},
  wsOptions: {},
} as const satisfies AgentLinkOptionalOptions;
