import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { z } from 'zod';
import {
  CloseCode, PROTOCOL_MAJOR, ReconSyncError, agentMethods, defaultTimeoutMs, encodeFrame, eventTopics, hubMethods,
  type AgentMethods, type EventData, type HubMethods, type RecordTopic, type StateTopic, type Welcome,
} from '../../protocol/index.ts';
import { RpcPeer, type CallOptions, type RpcFrame } from '../../protocol/rpc-peer.ts';
import type { Logger } from '../../lib/logger.ts';
import { Backoff } from '../../lib/backoff.ts';
import { decideOnEnd, describe, type LinkDecision, type LinkEnd } from './close-policy.ts';
import { HubConnection } from './connection.ts';
import {
  DefaultAgentLinkOptions, type AgentLinkEventsMap, type AgentLinkOptionalOptions, type AgentLinkOptions, type AgentLinkRequiredOptions,
} from './link-options.ts';
import { Outbox } from './outbox.ts';
import { EventGuard } from './repair.ts';
import { safeEmit } from '../../lib/safe-emit.ts';
import { stripUndefined } from '../../lib/strip-undefined.ts';
import { errorMessage } from '../../lib/error-message.ts';

export * from './link-options.ts';

type AgentPeer = RpcPeer<HubMethods, AgentMethods>;

/**
 * The agent's side of the hub link (design.md §5): dials out (one
 * HubConnection at a time, connection.ts), reconnects with jittered backoff as
 * close-policy.ts decides, streams state events (newest wins, coalesced while
 * down) and record events (outbox, re-sent until acked), and serves the hub's
 * RPCs through one RpcPeer that outlives reconnects, so a request id already
 * executed is answered from memory instead of running twice.
 */
export class AgentLink extends EventEmitter<AgentLinkEventsMap> {
  readonly #opts: AgentLinkRequiredOptions & AgentLinkOptionalOptions;
  readonly #log: Logger;
  readonly #backoff: Backoff;
  readonly #peer: AgentPeer;
  /** Aborted by close(): ends backoff sleeps and the run loop. */
  readonly #stop = new AbortController();
  #outbox: Outbox | undefined;
  #starting: Promise<void> | undefined;
  #loop: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #conn: HubConnection | undefined;
  /** Set between welcome and close: the link is usable for RPC. */
  #session: string | undefined;
  /** Set once the outbox has been re-sent after a welcome: new records go straight out. */
  #streaming = false;
  /** Newest state frame per (topic, serverId) published while the link was down. */
  readonly #unsentStates = new Map<string, string>();
  readonly #guard: EventGuard;

  constructor(options: AgentLinkOptions) {
    super();
    this.#opts = { ...DefaultAgentLinkOptions, ...stripUndefined(options) };
    checkUrl(this.#opts.url);
    this.#log = this.#opts.logger.child({ component: 'link', agentId: this.#opts.agentId });
    this.#guard = new EventGuard(this.#log);
    this.#backoff = new Backoff({ ...this.#opts.backoff, random: this.#opts.random });
    this.#peer = new RpcPeer<HubMethods, AgentMethods>({
      outgoing: hubMethods,
      incoming: agentMethods,
      handlers: this.#opts.handlers,
      timeouts: defaultTimeoutMs,
      clock: this.#opts.clock,
    });
  }

  /** Whether the hub has welcomed the current connection. */
  get connected(): boolean {
    return this.#session !== undefined;
  }

  get sessionId(): string | undefined {
    return this.#session;
  }

  /** Records stored but not yet acked by the hub (0 before start()). */
  get pendingRecords(): number {
    return this.#outbox?.pendingCount ?? 0;
  }

  /** Open the outbox and start dialing. Resolves once records can be published; connection happens in the background. */
  start(): Promise<void> {
    if (this.#stop.signal.aborted) return Promise.reject(new ReconSyncError('INTERNAL', 'the link was closed; make a new AgentLink'));
    this.#starting ??= this.#start().catch((err: unknown) => {
      this.#starting = undefined;
      throw err;
    });
    return this.#starting;
  }

  /** Newest-wins status: sent now when connected; otherwise the newest per (topic, server) waits for the link. */
  publishState<T extends StateTopic>(topic: T, data: EventData<T>): void {
    const spec = eventTopics[topic];
    if (spec?.kind !== 'state') throw new ReconSyncError('INVALID_PARAMS', `${String(topic)} is not a state topic`);
    const checked = this.#guard.check(topic, spec.data, data);
    if ('error' in checked) throw new ReconSyncError('INVALID_PARAMS', checked.error);
    const frame = JSON.stringify({ type: 'evt', topic, data: checked.data });
    // States do not wait for the outbox re-send: once welcomed they go straight out.
    if (this.#session !== undefined && this.#conn?.send(frame)) return;
    const owner = checked.data as { serverId?: string; id?: string };
    this.#unsentStates.set(`${topic}\u0000${owner.serverId ?? owner.id ?? ''}`, frame);
  }

  /** Store a record durably (fsync) and send it when connected. Resolves with its seq. */
  async publishRecord<T extends RecordTopic>(topic: T, data: EventData<T>): Promise<number> {
    if (!this.#outbox) await this.start();
    // A record refused for one oversized field (an alert's message) would be lost: repair it first.
    const spec = eventTopics[topic];
    const checked = spec ? this.#guard.check(topic, spec.data, data) : null;
    // Unrepairable data goes on as it was: the outbox refuses it with its own error.
    return this.#outbox!.append(topic, (checked && 'data' in checked ? checked.data : data) as EventData<T>);
  }


  callHub<M extends keyof HubMethods & string>(method: M, params: z.input<HubMethods[M]['params']>, options?: CallOptions): Promise<z.output<HubMethods[M]['result']>> {
    return this.#peer.call(method, params, options);
  }

  /**
   * Aborts the hub's calls that are running here (an API-started backup or
   * restore) and resolves once their handlers are done, so what they record on
   * the way out is in the outbox. The agent calls it before closing what those
   * handlers use (the backup engine); close() does it too.
   */
  abortCalls(): Promise<void> {
    return this.#peer.abortRunning('the agent is shutting down');
  }

  /** Graceful stop: close 1000, stop timers, fail calls in flight, flush and close the outbox. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #start(): Promise<void> {
    const ca = this.#opts.ca ? await readCa(this.#opts.ca) : undefined;
    this.#outbox ??= await Outbox.open(join(this.#opts.dataDir, 'outbox'), {
      ...this.#opts.outbox,
      logger: this.#log,
      clock: this.#opts.clock,
      onDurable: (record) => {
        if (this.#streaming) this.#conn?.send(record.frame);
      },
    });
    this.#backoff.reset();
    this.#loop = this.#run(ca);
  }

  async #run(ca: Buffer | undefined): Promise<void> {
    try {
      while (!this.#stop.signal.aborted) {
        const { end, wasUp } = await this.#connectOnce(ca);
        if (this.#stop.signal.aborted) {
          if (wasUp) this.#emit('disconnected', { reason: 'closed', message: 'link closed by the agent', end, retryInMs: null });
          break;
        }
        const decision = decideOnEnd(end, this.#opts.agentId);
        if (decision.action === 'stop') {
          this.#log.error({ reason: decision.reason, end }, decision.message);
          if (wasUp) this.#emit('disconnected', { reason: decision.reason, message: decision.message, end, retryInMs: null });
          this.#starting = undefined; // start() may try again, e.g. after the operator fixed the config
          this.#emit('stopped', { reason: decision.reason, message: decision.message, end });
          return;
        }
        const delay = this.#delayFor(decision);
        this.#log[decision.level]({ reason: decision.reason, end, attempt: this.#backoff.attempt, retryInMs: delay }, decision.message);
        if (wasUp) this.#emit('disconnected', { reason: decision.reason, message: decision.message, end, retryInMs: delay });
        try {
          await this.#opts.clock.sleep(delay, this.#stop.signal);
        } catch {
          break;
        }
      }
    } catch (err) {
      // A bug here must not take the agent down: the agent keeps working offline and says so.
      this.#log.error({ err }, 'hub link loop failed; the agent keeps running without a hub link');
      this.#starting = undefined;
      this.#emit('stopped', { reason: 'internal', message: `link loop failed: ${errorMessage(err)}`, end: null });
    }
  }

  #delayFor(decision: LinkDecision): number {
    if (decision.action === 'slow') {
      const ms = this.#opts.unauthorizedRetryMs;
      return Math.floor(ms / 2 + this.#opts.random() * (ms / 2));
    }
    return this.#backoff.next(this.#opts.clock.now());
  }

  /** One connection, from dial to close. Resolves (never rejects) with why it ended. */
  #connectOnce(ca: Buffer | undefined): Promise<{ end: LinkEnd; wasUp: boolean }> {
    const o = this.#opts;
    const conn = new HubConnection(
      {
        url: o.url, token: o.token, ca, wsOptions: o.wsOptions, clock: o.clock, logger: this.#log,
        openTimeoutMs: o.openTimeoutMs, welcomeTimeoutMs: o.welcomeTimeoutMs, heartbeatMs: o.heartbeatMs,
        deadAfterMs: o.deadAfterMs, closeTimeoutMs: o.closeTimeoutMs,
        hello: () => ({
          type: 'hello', agentId: o.agentId, agentVersion: o.agentVersion, protocol: PROTOCOL_MAJOR, servers: o.servers(), capabilities: o.capabilities,
        }),
      },
      {
        welcome: (welcome) => this.#onWelcome(conn, welcome),
        rpc: (frame) => this.#peer.handle(frame),
        ack: (seq) => this.#outbox?.ack(seq),
        closed: (end, wasUp) => {
          if (this.#conn !== conn) return;
          this.#conn = undefined;
          this.#session = undefined;
          this.#streaming = false;
          this.#peer.setSender(undefined);
          if (wasUp) this.#peer.disconnect(`link to the hub lost (${describe(end)})`);
        },
      },
    );
    this.#conn = conn;
    return conn.ended;
  }

  #onWelcome(conn: HubConnection, welcome: Welcome): void {
    this.#session = welcome.sessionId;
    this.#peer.setSender(this.#sendFrame);
    this.#backoff.connected(this.#opts.clock.now());
    this.#log.info({ sessionId: welcome.sessionId, hubVersion: welcome.hubVersion, ackedSeq: welcome.ackedSeq }, 'connected to the hub');
    for (const frame of this.#unsentStates.values()) conn.send(frame);
    this.#unsentStates.clear();
    void this.#resendRecords(conn, welcome.ackedSeq);
    this.#emit('welcome', welcome);
    this.#emit('connected', { sessionId: welcome.sessionId, hubVersion: welcome.hubVersion });
  }

  /** Drop what the hub already has, then re-send the rest in seq order and switch to streaming. */
  async #resendRecords(conn: HubConnection, ackedSeq: number): Promise<void> {
    const outbox = this.#outbox;
    if (!outbox) return;
    if (ackedSeq > outbox.lastSeq) {
      try {
        await outbox.rebase(ackedSeq);
      } catch (err) {
        this.#log.error({ err }, 'could not renumber the outbox; records are held until the next connection');
        return;
      }
      if (this.#conn !== conn || this.#session === undefined) return;
    } else if (ackedSeq < outbox.ackedSeq) {
      this.#log.warn({ hubAckedSeq: ackedSeq, localAckedSeq: outbox.ackedSeq }, 'hub acknowledges less than it did before (hub store reset?); records it lost cannot be re-sent');
    }
    outbox.ack(ackedSeq);
    // Synchronous from here on: a record made durable meanwhile is either in pending() or streamed by onDurable.
    for (const record of outbox.pending()) conn.send(record.frame);
    this.#streaming = true;
  }

  readonly #sendFrame = (frame: RpcFrame): boolean => this.#session !== undefined && this.#conn !== undefined && this.#conn.send(encodeFrame(frame));

  #emit<K extends keyof AgentLinkEventsMap>(event: K, ...args: AgentLinkEventsMap[K]): void {
    safeEmit(this, this.#log, event, ...args);
  }

  async #close(): Promise<void> {
    this.#stop.abort();
    const conn = this.#conn;
    conn?.destroy({ kind: 'close', code: CloseCode.Normal, reason: 'agent shutting down' }, { graceful: true });
    await conn?.ended;
    await this.#starting?.catch(() => undefined);
    await this.#loop;
    // Handlers still running record their outcome (into the outbox) before it closes.
    await this.abortCalls();
    this.#peer.close();
    await this.#outbox?.close();
    this.#emit('stopped', { reason: 'closed', message: 'link closed by the agent', end: null });
  }
}

async function readCa(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new ReconSyncError('INTERNAL', `cannot read the hub CA file ${file} (hub.ca in agent.yaml): ${errorMessage(err)}`, { cause: err });
  }
}

/** Fail at construction, where the config is at hand, rather than in the dial loop. */
function checkUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ReconSyncError('INVALID_PARAMS', `hub.url "${url}" is not a URL; expected e.g. ws://hub.example:7780/agent`);
  }
  if (!['ws:', 'wss:'].includes(parsed.protocol)) {
    throw new ReconSyncError('INVALID_PARAMS', `hub.url "${url}" must start with ws:// or wss:// (e.g. wss://hub.example:7780/agent)`);
  }
}
