import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { echo } from '../../lib/echo.ts';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { Logger } from '../../lib/logger.ts';
import { clientAddress } from '../link/upgrade.ts';
import { AuthThrottle } from '../link/throttle.ts';
import type { HubMetrics } from '../metrics.ts';
import type { HubService } from '../service/types.ts';
import type { Store } from '../store/index.ts';
import type { ApiScope } from '../store/api-keys.ts';
import { secretsEqual } from '../tokens.ts';
import { handleApi, isApiPath } from './api.ts';
import { requiredScope, scopeAllows, verifyApiKey } from '../apikeys.ts';
import { streamEvents, type EventsApi } from './events-api.ts';
import { HttpError, sendError, sendJson } from './respond.ts';

export interface HttpLimits {
  /** Time allowed to receive the request headers (upgrades included). */
  headersTimeoutMs?: number;
  /** Time allowed to receive a whole request. */
  requestTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  maxBodyBytes?: number;
  /** Failed API bearer checks per address per minute before 429. */
  apiAuthFailuresPerMinute?: number;
}

export const DefaultHttpLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxBodyBytes: 64 * 1024,
  apiAuthFailuresPerMinute: 20,
} satisfies Required<HttpLimits>;

export interface HttpServerOptions extends HttpLimits {
  service: HubService;
  store: Store;
  metrics: HubMetrics;
  logger: Logger;
  apiToken: string;
  trustProxy: boolean;
  tls?: { cert: string; key: string } | undefined;
  /** Events, audit and the event stream under /api/v1. */
  events?: EventsApi;
  onUpgrade: (req: IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => void;
}

/** One HTTP(S) server: /healthz, /metrics, /api/v1 and the agent WebSocket upgrade. */
export function createHttpServer(options: HttpServerOptions): http.Server {
  const opts = { ...DefaultHttpLimits, ...options };
  const apiThrottle = new AuthThrottle({ maxFailures: opts.apiAuthFailuresPerMinute });
  const serverOptions: http.ServerOptions = {
    headersTimeout: opts.headersTimeoutMs,
    requestTimeout: opts.requestTimeoutMs,
    keepAliveTimeout: opts.keepAliveTimeoutMs,
    // Node checks the two timeouts above on this interval (default 30 s, too coarse for them).
    connectionsCheckingInterval: Math.min(1000, opts.headersTimeoutMs),
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      if (!(err instanceof HttpError) && !(err instanceof Error && err.name === 'ReconSyncError')) opts.logger.error({ err, url: req.url }, 'HTTP handler failed');
      sendError(res, err);
    });
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const pathname = (req.url ?? '/').split('?')[0] ?? '/';
    if (pathname === '/healthz') {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'INVALID_PARAMS', 'use GET', { Allow: 'GET' });
      // 503 while a write fails now or a store operation failed recently (issue 10 §8): the reason says which and why.
      const probe = opts.store.probe();
      sendJson(res, probe.ok ? 200 : 503, probe.ok ? { status: 'ok' } : { status: 'unavailable', error: probe.reason });
      return;
    }
    if (pathname === '/metrics') {
      if (req.method !== 'GET') throw new HttpError(405, 'INVALID_PARAMS', 'use GET', { Allow: 'GET' });
      const text = await opts.metrics.registry.metrics();
      res.writeHead(200, { 'Content-Type': opts.metrics.registry.contentType, 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    if (isApiPath(pathname)) {
      const address = clientAddress(req, opts.trustProxy);
      const wait = apiThrottle.retryAfterMs(address);
      if (wait > 0) throw new HttpError(429, 'RATE_LIMITED', 'too many failed API logins; wait and retry', { 'Retry-After': String(Math.ceil(wait / 1000)) });
      const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? '');
      const presented = m?.[1] ?? '';
      // hub.yaml's api.token is the admin key; `reconsync apikey create` mints scoped ones.
      const caller = m && secretsEqual(presented, opts.apiToken) ? { id: 'api-token', scope: 'admin' as const } : apiKeyCaller(opts.store, presented);
      if (!caller) {
        apiThrottle.fail(address);
        // Throttled addresses are answered 429 above and not audited, so a flood cannot fill the log.
        opts.service.audit({ actor: { kind: 'api', id: 'unauthenticated', name: address }, action: 'api.login', serverId: null, outcome: 'denied', detail: `${req.method ?? '?'} ${pathname.slice(0, 200)}` });
        throw new HttpError(401, 'UNAUTHORIZED', 'send Authorization: Bearer <api token> (api.token in hub.yaml, or a key from reconsync apikey create)', { 'WWW-Authenticate': 'Bearer' });
      }
      const actor = { kind: 'api' as const, id: caller.id, name: address };
      const need = requiredScope(req.method, pathname);
      if (!scopeAllows(caller.scope, need)) {
        opts.service.audit({ actor, action: 'api.scope', serverId: null, outcome: 'denied', detail: `${req.method ?? '?'} ${pathname.slice(0, 200)} needs ${need}` });
        throw new HttpError(403, 'FORBIDDEN', `this API key has scope ${caller.scope}; ${req.method ?? '?'} ${echo(pathname)} needs ${need} (reconsync apikey create <name> --scope ${need})`);
      }
      // The stream writes as events happen, so it is not one of the request/answer routes.
      if (pathname === '/api/v1/events/stream' && req.method === 'GET' && opts.events) {
        streamEvents(opts.events, req, res);
        return;
      }
      await handleApi({ service: opts.service, actor, maxBodyBytes: opts.maxBodyBytes, ...(opts.events ? { events: opts.events } : {}) }, req, res, pathname);
      return;
    }
    throw new HttpError(404, 'INVALID_PARAMS', `nothing at ${echo(pathname)}; try /healthz, /metrics or /api/v1`);
  }

  const server = opts.tls
    ? https.createServer({
      ...serverOptions,
      // headersTimeout only starts once TLS is up; without this a client that never finishes
      // the handshake holds its socket for tls's default 120 s (found by test/security/tls.test.ts).
      handshakeTimeout: opts.headersTimeoutMs,
      cert: readFileSync(opts.tls.cert),
      key: readFileSync(opts.tls.key),
    }, onRequest)
    : http.createServer(serverOptions, onRequest);
  if (opts.tls) trackHandshakingSockets(server);
  server.on('upgrade', opts.onUpgrade);
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    // Timeouts and garbage requests: answer briefly when possible, never crash.
    // Only HTTP-level failures get an answer: a reset, or a TLS handshake that failed or timed out, cannot carry one.
    const httpLevel = err.code?.startsWith('HPE_') === true || err.code?.startsWith('ERR_HTTP_') === true;
    if (socket.writable && httpLevel) {
      const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
      socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    } else {
      socket.destroy();
    }
  });
  return server;
}

/** The scoped key presented, as the actor id the audit log shows ("apikey:<name>"), or null. */
function apiKeyCaller(store: Store, presented: string): { id: string; scope: ApiScope } | null {
  if (!store.open) return null;
  const key = verifyApiKey(store, presented);
  return key ? { id: `apikey:${key.name}`, scope: key.scope } : null;
}

/**
 * Sockets still in the TLS handshake are no HTTP connections yet, so
 * closeAllConnections() misses them and server.close() would wait for them:
 * the hub's shutdown hung for as long as such a client stayed (test/security/tls.test.ts).
 */
function trackHandshakingSockets(server: http.Server): void {
  const raw = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    raw.add(s);
    s.once('close', () => raw.delete(s));
  });
  const closeAll = server.closeAllConnections.bind(server);
  server.closeAllConnections = () => {
    closeAll();
    for (const s of raw) s.destroy();
  };
}
