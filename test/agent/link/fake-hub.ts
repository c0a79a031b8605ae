/**
 * A tiny hub for link tests: real HTTP + ws on 127.0.0.1:0, checks the upgrade
 * headers like the real hub (401/426), answers hello with welcome, records
 * every frame and lets the test send anything back. Not the real hub on
 * purpose: tests need to misbehave (refuse, stay silent, send garbage).
 */
import { createHash } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { PROTOCOL_HEADER, PROTOCOL_MAJOR } from '../../../protocol/index.ts';

export type Json = Record<string, unknown> & { type?: string; seq?: number; topic?: string; id?: string };

export interface FakeHubOptions {
  token: string;
  /** Answer hello with welcome (default true). */
  welcome?: boolean;
  /** Ack every record at once (default true). */
  autoAck?: boolean;
  /** Force welcome.ackedSeq; default: the highest seq this hub acked. */
  ackedSeq?: number;
  /** Serve wss:// with this PEM key and certificate. */
  tls?: { key: string; cert: string };
}

/** Waits for items pushed later; `take` skips items that do not match. */
class Inbox<T> {
  readonly items: T[] = [];
  #cursor = 0;
  readonly #events = new EventEmitter();

  push(item: T): void {
    this.items.push(item);
    this.#events.emit('item');
  }

  async take(match: (item: T) => boolean, signal: AbortSignal): Promise<T> {
    for (;;) {
      while (this.#cursor < this.items.length) {
        const item = this.items[this.#cursor++]!;
        if (match(item)) return item;
      }
      await once(this.#events, 'item', { signal });
    }
  }
}

export class FakeConn {
  readonly frames = new Inbox<Json>();
  readonly closed: Promise<{ code: number; reason: string }>;
  hello: Json | undefined;

  constructor(readonly ws: WebSocket, readonly headers: IncomingHttpHeaders) {
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  take(match: (f: Json) => boolean, signal: AbortSignal): Promise<Json> {
    return this.frames.take(match, signal);
  }

  /** The next record event (skipping state events and RPC frames). */
  nextRecord(signal: AbortSignal): Promise<Json> {
    return this.take((f) => f.type === 'evt' && typeof f.seq === 'number', signal);
  }
}

export class FakeHub {
  /** Connections, each added once it has been welcomed (or at upgrade when `welcome: false`). */
  readonly connections = new Inbox<FakeConn>();
  /** Every upgrade request's headers, accepted or refused. */
  readonly upgradeLog = new Inbox<IncomingHttpHeaders>();
  /** When set, upgrades are answered with this HTTP status instead. */
  refuseWith: number | undefined;
  acked = 0;
  #n = 0;

  private constructor(readonly opts: FakeHubOptions, readonly server: Server, readonly wss: WebSocketServer, readonly url: string) {}

  static async start(opts: FakeHubOptions): Promise<FakeHub> {
    const notFound = (_req: unknown, res: { writeHead(n: number): { end(): void } }) => res.writeHead(404).end();
    const server: Server = opts.tls ? createTlsServer(opts.tls, notFound) : createServer(notFound);
    const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const hub = new FakeHub(opts, server, wss, `${opts.tls ? 'wss' : 'ws'}://127.0.0.1:${port}/agent`);
    server.on('upgrade', (req, socket, head) => hub.#upgrade(req.headers, req, socket as Socket, head));
    return hub;
  }

  get upgrades(): number {
    return this.upgradeLog.items.length;
  }

  get current(): FakeConn | undefined {
    return this.connections.items.at(-1);
  }

  nextConnection(signal: AbortSignal): Promise<FakeConn> {
    return this.connections.take(() => true, signal);
  }

  #upgrade(headers: IncomingHttpHeaders, req: Parameters<WebSocketServer['handleUpgrade']>[0], socket: Socket, head: Buffer): void {
    this.upgradeLog.push(headers);
    const refuse = (status: number, extra = '') => {
      socket.end(`HTTP/1.1 ${status} Refused\r\nConnection: close\r\nContent-Length: 0\r\n${extra}\r\n`);
    };
    if (this.refuseWith !== undefined) return refuse(this.refuseWith);
    if (headers.authorization !== `Bearer ${this.opts.token}`) return refuse(401);
    if (headers[PROTOCOL_HEADER] !== String(PROTOCOL_MAJOR)) return refuse(426, `${PROTOCOL_HEADER}: ${PROTOCOL_MAJOR}\r\n`);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = new FakeConn(ws, headers);
      ws.on('message', (data, isBinary) => {
        if (isBinary) return;
        const frame = JSON.parse(data.toString()) as Json;
        if (frame.type === 'hello') {
          conn.hello = frame;
          if (this.opts.welcome !== false) {
            conn.send({ type: 'welcome', sessionId: `s${++this.#n}`, heartbeatMs: 15_000, hubVersion: 'fake', ackedSeq: this.opts.ackedSeq ?? this.acked });
            // Handed to the test only now, so whatever it sends arrives after the welcome.
            this.connections.push(conn);
          }
        } else if (frame.type === 'evt' && typeof frame.seq === 'number' && this.opts.autoAck !== false) {
          this.ack(conn, frame.seq);
        }
        conn.frames.push(frame);
      });
      if (this.opts.welcome === false) this.connections.push(conn);
    });
  }

  /** Store-and-ack up to `seq`, as the real hub does after persisting. */
  ack(conn: FakeConn, seq: number): void {
    this.acked = Math.max(this.acked, seq);
    conn.send({ type: 'ack', seq: this.acked });
  }

  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** One unmasked server→client text frame, for hand-rolled servers. */
export function textFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  if (payload.length < 126) return Buffer.concat([Buffer.from([0x81, payload.length]), payload]);
  const header = Buffer.from([0x81, 126, 0, 0]);
  header.writeUInt16BE(payload.length, 2);
  return Buffer.concat([header, payload]);
}

/** A raw server that completes the upgrade, sends a welcome, then never reads again (no pongs). */
export async function startSilentHub(): Promise<{ url: string; upgrades: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let upgrades = 0;
  const server = createServer();
  server.on('upgrade', (req, socket: Socket) => {
    upgrades++;
    sockets.add(socket);
    const key = String(req.headers['sec-websocket-key']);
    const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    socket.write(textFrame(JSON.stringify({ type: 'welcome', sessionId: `silent${upgrades}`, heartbeatMs: 15_000, hubVersion: 'raw', ackedSeq: 0 })));
    // Stop reading: pings pile up unanswered, like a hung hub process.
    socket.pause();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/agent`,
    upgrades: () => upgrades,
    close: async () => {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
