import { randomUUID } from 'node:crypto';
import type { RawData, WebSocket } from 'ws';
import type { Logger } from '../../lib/logger.ts';
import {
  CloseCode,
  PROTOCOL_MAJOR,
  RpcPeer,
  agentMethods,
  defaultTimeoutMs,
  encodeFrame,
  hubMethods,
  isRecordTopic,
  parseFrame,
  type AgentMethods,
  type EvtFrame,
  type Frame,
  type Hello,
  type HubMethods,
  type RecordTopic,
  type ServerSummary,
  type Clock,
  type ClockTimer,
} from '../../protocol/index.ts';
import type { Handlers } from '../../protocol/rpc-peer.ts';
import type { HubMetrics } from '../metrics.ts';
import { isStoreError } from '../store/health.ts';
import { InboundBudget, type InboundLimits } from './inbound-budget.ts';

// Derived from the protocol's topic table, so a new record topic cannot be missed here.
export type RecordEvt = Extract<EvtFrame, { topic: RecordTopic }>;
export type StateEvt = Exclude<EvtFrame, RecordEvt>;

/** What a session needs from the rest of the hub. */
export interface SessionHooks {
  /** A valid hello arrived: persist it and return the acked seq for welcome. Throw to refuse the session. */
  hello(session: Session, hello: Hello): number;
  /** Welcome was sent: the session now is the agent's session (replacing an older one). */
  opened(session: Session): void;
  state(session: Session, evt: StateEvt): void;
  /**
   * Persists a record (idempotent by seq) and returns the cumulative seq to ack. Throws only when the
   * record could not be stored: the session then closes (1013) so the agent re-sends it. A record the hub
   * refuses (e.g. about a server the agent does not own) is stored or skipped and acked, never thrown.
   */
  record(session: Session, evt: RecordEvt): number;
  closed(session: Session, code: number, reason: string, wasOpen: boolean): void;
}

export interface SessionOptions {
  ws: WebSocket;
  agentId: string;
  tokenId: number;
  address: string;
  hooks: SessionHooks;
  handlers: Handlers<HubMethods>;
  metrics: HubMetrics;
  logger: Logger;
  hubVersion: string;
  heartbeatMs: number;
  helloTimeoutMs: number;
  /** Malformed frames tolerated per minute before the socket is closed (1002). */
  malformedPerMinute: number;
  /**
   * Bytes queued for the agent (ws.bufferedAmount) beyond which it counts as
   * not reading and the socket is cut: without it one agent that sends
   * requests and never reads the answers grows hub memory without bound.
   */
  maxBufferedBytes: number;
  /** What the agent may send per second before its socket is read more slowly. */
  inbound: InboundLimits;
  onRpcSettled?: (method: string, outcome: string, ms: number) => void;
  /** Liveness stamps, the hello deadline and the RPC deadlines run on it (the registry's clock). */
  clock: Clock;
}

type Phase = 'hello' | 'open' | 'closed';

const MALFORMED_WINDOW_MS = 60_000;
/** WebSocket.OPEN, as a constant: send() runs once per frame. */
const OPEN = 1;

/**
 * One agent connection: hello/welcome, frame dispatch, RPC peer, liveness
 * bookkeeping. Heartbeats are driven by the registry (one timer for all).
 */
export class Session {
  readonly id = randomUUID();
  readonly agentId: string;
  readonly tokenId: number;
  readonly address: string;
  readonly ws: WebSocket;
  readonly rpc: RpcPeer<AgentMethods, HubMethods>;
  readonly logger: Logger;
  agentVersion: string | null = null;
  servers: ServerSummary[] = [];
  /** Clock time of the last sign of life (frame, ping or pong). */
  lastHeard: number;
  lastPinged = 0;
  #phase: Phase = 'hello';
  readonly #opts: SessionOptions;
  #helloTimer: ClockTimer | undefined;
  #malformed = 0;
  #malformedWindow: number;
  readonly #budget: InboundBudget;
  /** Set while the socket is not read (over budget); resumes it when it fires. */
  #readPause: ClockTimer | undefined;
  #toldOverBudget = false;

  constructor(opts: SessionOptions) {
    this.#opts = opts;
    this.lastHeard = this.#malformedWindow = opts.clock.now();
    this.#budget = new InboundBudget(opts.inbound, opts.clock);
    this.ws = opts.ws;
    this.agentId = opts.agentId;
    this.tokenId = opts.tokenId;
    this.address = opts.address;
    this.logger = opts.logger.child({ agentId: opts.agentId, sessionId: this.id });
    this.rpc = new RpcPeer<AgentMethods, HubMethods>({
      outgoing: agentMethods,
      incoming: hubMethods,
      handlers: opts.handlers,
      timeouts: defaultTimeoutMs,
      // Calls are only accepted once the agent has said hello.
      send: undefined,
      clock: opts.clock,
      ...(opts.onRpcSettled ? { onCallSettled: opts.onRpcSettled } : {}),
    });

    this.#helloTimer = opts.clock.setTimer(opts.helloTimeoutMs, () => this.close(CloseCode.BadHello, 'no hello in time'));
    this.#helloTimer.unref();
    const ws = opts.ws;
    ws.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    ws.on('pong', this.#alive);
    // ws answers each ping with a pong: a ping flood from a peer that does not read fills the buffer too.
    ws.on('ping', () => {
      this.#alive();
      this.#backlogged();
    });
    ws.on('close', (code, reason) => this.#finish(code, reason.toString('utf8')));
    ws.on('error', (err) => {
      // ws closes the socket itself (e.g. 1009 for an oversized frame); just note why.
      this.logger.warn({ err: err.message, code: (err as { code?: string }).code }, 'agent socket error');
    });
  }

  get phase(): Phase {
    return this.#phase;
  }

  get open(): boolean {
    return this.#phase === 'open';
  }

  /** Sends one frame; false when the socket is not open (or was just cut for not reading). */
  send(frame: Frame): boolean {
    if (this.#phase === 'closed' || this.ws.readyState !== OPEN) return false;
    this.ws.send(encodeFrame(frame));
    this.#opts.metrics.frameOut(frame.type);
    return !this.#backlogged();
  }

  /** How long the agent has been silent, on the session's clock (callers on another clock subtract it from theirs). */
  silentMs(): number {
    return Math.max(0, this.#opts.clock.now() - this.lastHeard);
  }

  ping(now: number): void {
    this.lastPinged = now;
    if (this.ws.readyState === this.ws.OPEN) this.ws.ping();
  }

  /** Closes with a code; the session counts as gone at once, even before the peer answers the close. */
  close(code: number, reason: string): void {
    if (this.#phase === 'closed') return;
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code, reason);
    this.#finish(code, reason);
  }

  /** A dead peer: no close handshake. */
  terminate(reason: string): void {
    if (this.#phase === 'closed') return;
    this.ws.terminate();
    this.#finish(CloseCode.GoingAway, reason);
  }

  #alive = (): void => {
    this.lastHeard = this.#opts.clock.now();
  };

  /**
   * True (and the socket cut) when more than maxBufferedBytes wait for the
   * agent. Terminated, not closed: a close frame would queue behind the
   * backlog and keep it in memory for ws's 30 s close timeout.
   */
  #backlogged(): boolean {
    const buffered = this.ws.bufferedAmount;
    if (buffered <= this.#opts.maxBufferedBytes) return false;
    if (this.#phase === 'closed') return true;
    this.#opts.metrics.slowPeersClosed.inc();
    this.logger.warn({ bufferedBytes: buffered, limit: this.#opts.maxBufferedBytes }, 'agent does not read what the hub sends; dropping the link');
    this.ws.terminate();
    this.#finish(CloseCode.PolicyViolation, `not reading: more than ${this.#opts.maxBufferedBytes} bytes queued`);
    return true;
  }

  #finish(code: number, reason: string): void {
    if (this.#phase === 'closed') return;
    const wasOpen = this.#phase === 'open';
    this.#phase = 'closed';
    this.#helloTimer?.cancel();
    this.#readPause?.cancel();
    this.rpc.disconnect(`link to agent ${this.agentId} closed (${code}${reason ? `: ${reason}` : ''})`);
    this.rpc.close();
    this.logger.info({ code, reason }, 'agent session closed');
    this.#opts.hooks.closed(this, code, reason, wasOpen);
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    this.lastHeard = this.#opts.clock.now();
    if (this.#phase === 'closed') return;
    if (isBinary) {
      this.#malformedFrame('binary frames are not part of the protocol', null);
      return;
    }
    const raw = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    const parsed = parseFrame(raw);
    // The answer to a call of the hub's is free: the hub chose to ask (and its fan-outs are many calls at once).
    if (!(parsed.ok && parsed.frame.type === 'res' && this.rpc.awaits(parsed.frame.id))) this.#charge(raw.length);
    if (!parsed.ok) {
      this.#malformedFrame(parsed.error, parsed.requestId ?? null);
      return;
    }
    const frame = parsed.frame;
    this.#opts.metrics.frameIn(frame.type);
    if (this.#phase === 'hello') {
      if (frame.type !== 'hello') this.close(CloseCode.BadHello, 'the first frame must be hello');
      else this.#onHello(frame);
      return;
    }
    switch (frame.type) {
      case 'req':
      case 'res':
      case 'cancel':
        this.rpc.handle(frame);
        return;
      case 'evt':
        this.#onEvt(frame);
        return;
      default:
        this.#malformedFrame(`unexpected ${frame.type} frame from an agent`, null);
    }
  }

  /** Counts a frame against the agent's inbound budget; over it, stops reading for a while (inbound-budget.ts). */
  #charge(bytes: number): void {
    const waitMs = this.#budget.spend(bytes);
    if (waitMs === 0 || this.#readPause || this.#phase === 'closed') return;
    this.ws.pause();
    this.#opts.metrics.inboundPaused.inc();
    if (!this.#toldOverBudget) {
      this.#toldOverBudget = true;
      this.logger.warn({ waitMs }, 'agent sends faster than its inbound budget; its link is read more slowly (logged once per session)');
    }
    this.#readPause = this.#opts.clock.setTimer(waitMs, () => {
      this.#readPause = undefined;
      if (this.#phase !== 'closed') this.ws.resume();
    });
    this.#readPause.unref();
  }

  #onHello(hello: Hello): void {
    if (hello.agentId !== this.agentId) {
      this.logger.warn({ claimed: hello.agentId }, 'hello agentId does not match the token');
      this.close(CloseCode.BadHello, 'agentId does not match the token');
      return;
    }
    if (hello.protocol !== PROTOCOL_MAJOR) {
      this.close(CloseCode.BadHello, `protocol ${hello.protocol} is not ${PROTOCOL_MAJOR}`);
      return;
    }
    this.#helloTimer?.cancel();
    this.agentVersion = hello.agentVersion;
    this.servers = hello.servers;
    let ackedSeq: number;
    try {
      ackedSeq = this.#opts.hooks.hello(this, hello);
    } catch (err) {
      this.logger.error({ err }, 'hello could not be registered');
      // A store fault is the hub's problem, not the agent's: 4002 would make the agent stop for good.
      if (isStoreError(err)) this.close(CloseCode.TryAgainLater, 'hub store unavailable; retry later');
      else this.close(CloseCode.BadHello, 'hub could not register the session');
      return;
    }
    this.#phase = 'open';
    this.rpc.setSender((f) => this.send(f));
    this.send({ type: 'welcome', sessionId: this.id, heartbeatMs: this.#opts.heartbeatMs, hubVersion: this.#opts.hubVersion, ackedSeq });
    this.#opts.hooks.opened(this);
    this.logger.info({ agentVersion: hello.agentVersion, servers: hello.servers.length, address: this.address }, 'agent session open');
  }

  #onEvt(evt: EvtFrame): void {
    if (!isRecordTopic(evt.topic)) {
      try {
        this.#opts.hooks.state(this, evt as StateEvt);
      } catch (err) {
        // Status is state: the next one replaces it, nothing to re-send.
        this.logger.error({ err, topic: evt.topic }, 'status event could not be applied');
      }
      return;
    }
    let ackSeq: number;
    try {
      ackSeq = this.#opts.hooks.record(this, evt as RecordEvt);
    } catch (err) {
      // The ack is cumulative: acking any later seq on this session would make the agent drop this record
      // for good (issue 10 §3). So the session ends here, before the frames queued behind this one are
      // read; the agent keeps everything unacked in its outbox and re-sends it, in order, after reconnecting.
      this.logger.error({ err, topic: evt.topic, seq: evt.seq }, 'record could not be stored; closing the session so the agent re-sends it');
      this.close(CloseCode.TryAgainLater, isStoreError(err) ? 'hub store unavailable; retry later' : 'record could not be stored; retry later');
      return;
    }
    this.send({ type: 'ack', seq: ackSeq });
  }

  #malformedFrame(error: string, reqId: string | null): void {
    this.#opts.metrics.malformedFrames.inc();
    this.logger.warn({ error }, 'malformed frame from agent');
    const now = this.#opts.clock.now();
    if (now - this.#malformedWindow > MALFORMED_WINDOW_MS) {
      this.#malformedWindow = now;
      this.#malformed = 0;
    }
    if (++this.#malformed > this.#opts.malformedPerMinute) {
      this.close(CloseCode.ProtocolError, 'too many malformed frames');
      return;
    }
    if (this.#phase === 'hello') {
      this.close(CloseCode.BadHello, 'the first frame must be a valid hello');
      return;
    }
    // A request parseFrame could identify gets an answer, so the caller is not left waiting for its timeout.
    // (Never parse the frame again here: JSON.parse of a refused 1 MiB `[[[…` frame holds the event loop for hundreds of ms.)
    if (reqId) this.send({ type: 'res', id: reqId, ok: false, error: { code: 'INVALID_PARAMS', message: error.slice(0, 500), retryable: false } });
  }
}
