import type { IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../../lib/logger.ts';
import { AGENT_PATH, ErrorCatalog, PROTOCOL_HEADER, PROTOCOL_MAJOR, type ErrorCode } from '../../protocol/index.ts';
import type { HubMetrics } from '../metrics.ts';
import type { Store } from '../store/index.ts';
import { verifyTokenDetailed } from '../tokens.ts';
import type { AuthThrottle } from './throttle.ts';

export interface AuthenticatedPeer {
  agentId: string;
  tokenId: number;
  address: string;
}

export interface UpgradeHandlerOptions {
  wss: WebSocketServer;
  store: Store;
  throttle: AuthThrottle;
  metrics: HubMetrics;
  logger: Logger;
  /** Take the client address from X-Forwarded-For (set by a reverse proxy we trust). */
  trustProxy: boolean;
  /** Upgrades in flight plus sessions that have not said hello yet; beyond this, 503. */
  maxPending: number;
  /** Sessions that are open but have not said hello yet. */
  awaitingHello: () => number;
  onConnection: (ws: WebSocket, peer: AuthenticatedPeer) => void;
}

export function clientAddress(req: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const xff = req.headers['x-forwarded-for'];
    const value = Array.isArray(xff) ? xff.at(-1) : xff;
    // The right-most entry is the one our own proxy appended; earlier ones are client-controlled.
    const last = value?.split(',').at(-1)?.trim();
    if (last) return last;
  }
  return req.socket.remoteAddress ?? 'unknown';
}

/** Writes an HTTP answer on a socket that was about to be upgraded, then closes it (ws's abortHandshake, with a JSON body). */
export function rejectUpgrade(socket: Duplex, status: number, code: ErrorCode, message: string, headers: Record<string, string> = {}): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ ok: false, error: { code, message } });
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      'Connection: close\r\nContent-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`,
  );
}

function bearer(header: string | undefined): string {
  if (!header) return '';
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m?.[1] ?? '';
}

function protocolMajor(header: string | string[] | undefined): number | null {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || !/^\s*\d{1,6}(\.\d+)*\s*$/.test(value)) return null;
  return Number.parseInt(value, 10);
}

/**
 * The http server's 'upgrade' listener. Every check happens here, before the
 * socket becomes a WebSocket and before any session state exists.
 */
export function createUpgradeHandler(opts: UpgradeHandlerOptions): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const { wss, store, throttle, metrics, logger } = opts;
  let inFlight = 0;

  const refuse = (socket: Duplex, status: number, code: ErrorCode, message: string, headers?: Record<string, string>) => {
    metrics.upgradeRejections.labels(String(status)).inc();
    rejectUpgrade(socket, status, code, message, headers);
  };

  return (req, socket, head) => {
    // An upgrade socket has no error listener of its own: a reset would otherwise crash the process.
    socket.on('error', () => socket.destroy());

    const path = (req.url ?? '/').split('?')[0];
    if (path !== AGENT_PATH) {
      refuse(socket, 404, 'INVALID_PARAMS', `no WebSocket endpoint here; agents connect to ${AGENT_PATH}`);
      return;
    }
    if (req.headers.origin !== undefined) {
      // Agents never send Origin; browsers always do. A page must not be able to open this socket.
      refuse(socket, 403, 'FORBIDDEN', 'browser origins may not connect to the agent endpoint');
      return;
    }
    const address = clientAddress(req, opts.trustProxy);
    const waitMs = throttle.retryAfterMs(address);
    if (waitMs > 0) {
      refuse(socket, 429, 'RATE_LIMITED', ErrorCatalog.RATE_LIMITED.hint, { 'Retry-After': String(Math.ceil(waitMs / 1000)) });
      return;
    }
    if (inFlight + opts.awaitingHello() >= opts.maxPending) {
      refuse(socket, 503, 'RATE_LIMITED', 'too many connections are being set up; retry shortly', { 'Retry-After': '1' });
      return;
    }

    // Missing and wrong tokens share this one path (same work, same answer).
    let verified: ReturnType<typeof verifyTokenDetailed>;
    try {
      verified = verifyTokenDetailed(store, bearer(req.headers.authorization));
    } catch (err) {
      // A failing store must not turn into an exception in the 'upgrade' listener (it would end the hub)
      // nor into 401 (the agent would back off as if its token were wrong): 503 means retry.
      logger.error({ err, address }, 'agent upgrade refused: the token store cannot be read');
      refuse(socket, 503, 'INTERNAL', 'the hub store is unavailable; retry shortly', { 'Retry-After': '5' });
      return;
    }
    if (!verified) {
      throttle.fail(address);
      logger.warn({ address }, 'agent upgrade refused: missing or wrong token');
      refuse(socket, 401, 'UNAUTHORIZED', 'missing or invalid agent token; create one with `reconsync token create <agentId>`', { 'WWW-Authenticate': 'Bearer' });
      return;
    }
    const major = protocolMajor(req.headers[PROTOCOL_HEADER]);
    if (major !== PROTOCOL_MAJOR) {
      logger.warn({ agentId: verified.agentId, address, protocol: req.headers[PROTOCOL_HEADER] ?? null }, 'agent upgrade refused: protocol major differs');
      refuse(socket, 426, 'NOT_SUPPORTED', `this hub speaks protocol ${PROTOCOL_MAJOR}; upgrade the agent or the hub so both match`, {
        'X-ReconSync-Protocol': String(PROTOCOL_MAJOR),
        Upgrade: 'websocket',
      });
      return;
    }

    inFlight++;
    let counted = true;
    const done = () => {
      if (counted) {
        counted = false;
        inFlight--;
      }
    };
    socket.once('close', done);
    wss.handleUpgrade(req, socket, head, (ws) => {
      done();
      socket.off('close', done);
      opts.onConnection(ws, { agentId: verified.agentId, tokenId: verified.tokenId, address });
    });
  };
}
