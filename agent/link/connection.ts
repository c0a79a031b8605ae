import type { IncomingMessage } from 'node:http';
import WebSocket, { type ClientOptions, type RawData } from 'ws';
import {
  CloseCode, HelloSchema, MAX_FRAME_BYTES, PROTOCOL_HEADER, PROTOCOL_MAJOR, parseFrame, type Clock, type Welcome,
} from '../../protocol/index.ts';
import type { RpcFrame } from '../../protocol/rpc-peer.ts';
import type { Logger } from '../../lib/logger.ts';
import type { LinkEnd } from './close-policy.ts';
import { firstIssue } from '../../lib/zod-issue.ts';

/** How many bad frames per connection are logged one by one before logging only every 1000th. */
const BAD_FRAME_LOG_BURST = 10;

export interface HubConnectionOptions {
  url: string;
  token: string;
  ca: Buffer | undefined;
  wsOptions: Omit<ClientOptions, 'headers' | 'perMessageDeflate' | 'maxPayload'>;
  clock: Clock;
  logger: Logger;
  openTimeoutMs: number;
  welcomeTimeoutMs: number;
  heartbeatMs: number;
  deadAfterMs: number;
  closeTimeoutMs: number;
  /** The hello to send once the socket is open; checked against the protocol's schema before it goes. */
  hello: () => unknown;
}

/** What the connection hands to its owner; each runs synchronously, in socket order. */
export interface HubConnectionHandlers {
  welcome(welcome: Welcome): void;
  rpc(frame: RpcFrame): void;
  ack(seq: number): void;
  /** The socket is gone; runs before `ended` resolves, so nothing is sent into a closed socket meanwhile. */
  closed(end: LinkEnd, wasUp: boolean): void;
}

export interface ConnectionEnd {
  end: LinkEnd;
  /** Whether the hub had welcomed this connection. */
  wasUp: boolean;
}

/**
 * One connection to the hub, from dial to close: the upgrade with the
 * agent's token, hello, welcome, frame dispatch and the watchdogs (open,
 * welcome, heartbeat). It ends one way only, through destroy(): the first
 * cause given (a refused upgrade, a watchdog's verdict, the agent closing)
 * is the one reported, not the 1006 that follows it.
 */
export class HubConnection {
  /** Resolves (never rejects) once the socket is closed, with why. */
  readonly ended: Promise<ConnectionEnd>;
  readonly #opts: HubConnectionOptions;
  readonly #handlers: HubConnectionHandlers;
  readonly #ws: WebSocket;
  /** Aborted when the socket closed: ends the watchdog sleeps. */
  readonly #alive = new AbortController();
  #end: LinkEnd | undefined;
  #welcomed = false;
  /** Anything heard from the hub since the last heartbeat tick. */
  #heard = false;
  #badFrames = 0;

  constructor(opts: HubConnectionOptions, handlers: HubConnectionHandlers) {
    this.#opts = opts;
    this.#handlers = handlers;
    let resolveEnded!: (e: ConnectionEnd) => void;
    this.ended = new Promise((resolve) => (resolveEnded = resolve));
    const ws = new WebSocket(opts.url, {
      ...opts.wsOptions,
      ...(opts.ca ? { ca: opts.ca } : {}),
      perMessageDeflate: false,
      maxPayload: MAX_FRAME_BYTES,
      headers: { authorization: `Bearer ${opts.token}`, [PROTOCOL_HEADER]: String(PROTOCOL_MAJOR) },
    });
    this.#ws = ws;
    this.#after(opts.openTimeoutMs, () => {
      if (ws.readyState === WebSocket.CONNECTING) this.destroy({ kind: 'timeout', phase: 'open', ms: opts.openTimeoutMs });
    });
    ws.on('unexpected-response', (_req, res: IncomingMessage) => {
      const hubProtocol = res.headers[PROTOCOL_HEADER];
      res.resume();
      this.destroy({ kind: 'http', status: res.statusCode ?? 0, ...(typeof hubProtocol === 'string' ? { hubProtocol } : {}) });
    });
    ws.on('open', () => this.#onOpen());
    ws.on('message', (data: RawData, isBinary: boolean) => this.#onMessage(data, isBinary));
    ws.on('pong', this.#onHeard);
    ws.on('ping', this.#onHeard);
    ws.on('error', (err) => {
      // ws closes the socket itself after an error; the close that follows reports this cause.
      this.#end ??= { kind: 'error', message: err.message };
    });
    ws.on('close', (code, reason) => {
      const end = (this.#end ??= { kind: 'close', code, reason: reason.toString('utf8') });
      this.#alive.abort();
      this.#handlers.closed(end, this.#welcomed);
      resolveEnded({ end, wasUp: this.#welcomed });
    });
  }

  /** Sends a text frame if the socket is open; false otherwise. */
  send(text: string): boolean {
    if (this.#ws.readyState !== WebSocket.OPEN) return false;
    this.#ws.send(text);
    return true;
  }

  /**
   * The one way a connection ends. `graceful` sends a close frame (with the
   * code and reason of a `close` end) and cuts the socket if the hub does not
   * answer within closeTimeoutMs; otherwise the socket is cut at once.
   */
  destroy(end: LinkEnd, { graceful = false }: { graceful?: boolean } = {}): void {
    this.#end ??= end;
    if (graceful && this.#ws.readyState === WebSocket.OPEN) {
      this.#ws.close(end.kind === 'close' ? end.code : CloseCode.Normal, end.kind === 'close' ? end.reason : '');
      this.#after(this.#opts.closeTimeoutMs, () => this.#ws.terminate());
    } else {
      this.#ws.terminate();
    }
  }

  #onOpen(): void {
    const hello = HelloSchema.safeParse(this.#opts.hello());
    if (!hello.success) {
      // Same verdict as the hub's 4002, decided here so the close policy has one table.
      this.destroy({ kind: 'close', code: CloseCode.BadHello, reason: `agent-side check: ${firstIssue(hello.error)}` });
      return;
    }
    this.#ws.send(JSON.stringify(hello.data));
    this.#after(this.#opts.welcomeTimeoutMs, () => {
      if (!this.#welcomed) this.destroy({ kind: 'timeout', phase: 'welcome', ms: this.#opts.welcomeTimeoutMs });
    });
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    this.#heard = true;
    if (isBinary) return this.#badFrame('binary frame');
    const parsed = parseFrame(data as Buffer);
    if (!parsed.ok) return this.#badFrame(parsed.error);
    const frame = parsed.frame;
    switch (frame.type) {
      case 'req':
      case 'res':
      case 'cancel':
        if (!this.#welcomed) return this.#badFrame(`${frame.type} before welcome`);
        return this.#handlers.rpc(frame);
      case 'ack':
        return this.#handlers.ack(frame.seq);
      case 'welcome':
        if (this.#welcomed) return this.#badFrame('second welcome');
        this.#welcomed = true;
        void this.#heartbeat();
        return this.#handlers.welcome(frame);
      default:
        return this.#badFrame(`unexpected ${frame.type} frame from the hub`);
    }
  }

  readonly #onHeard = (): void => {
    this.#heard = true;
  };

  /** Ping every heartbeatMs; a hub silent for deadAfterMs is cut off (and redialed by the owner). */
  async #heartbeat(): Promise<void> {
    const { clock, heartbeatMs, deadAfterMs } = this.#opts;
    let lastHeard = clock.now();
    for (;;) {
      try {
        await clock.sleep(heartbeatMs, this.#alive.signal);
      } catch {
        return;
      }
      const now = clock.now();
      if (this.#heard) {
        this.#heard = false;
        lastHeard = now;
      } else if (now - lastHeard >= deadAfterMs) {
        this.#opts.logger.warn({ silentMs: now - lastHeard }, 'hub stopped answering; reconnecting');
        this.destroy({ kind: 'dead', silentMs: now - lastHeard });
        return;
      }
      this.#ws.ping();
    }
  }

  #badFrame(what: string): void {
    const n = ++this.#badFrames;
    if (n <= BAD_FRAME_LOG_BURST || n % 1000 === 0) this.#opts.logger.warn({ badFrames: n }, `ignored an invalid frame from the hub: ${what}`);
  }

  /** Runs fn after ms unless the socket closed first. */
  #after(ms: number, fn: () => void): void {
    this.#opts.clock.sleep(ms, this.#alive.signal).then(fn, () => undefined);
  }
}
