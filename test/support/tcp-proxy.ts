// A TCP proxy for fault injection between an agent and its hub: it can cut the
// link (both ends see a reset), stall it (bytes stop moving, nothing closes, as
// when a NAT entry or a route silently disappears), delay it, or refuse new
// connections. Loopback only; every socket it opens it also closes.
import { EventEmitter, once } from 'node:events';
import net from 'node:net';
import { systemClock, type Clock, type ClockTimer } from '../../protocol/index.ts';

export interface TcpProxyOptions {
  targetPort: number;
  targetHost?: string;
  /** 0 = any free port. */
  listenPort?: number;
  listenHost?: string;
  /** Delays are measured and waited out on it (default: the system clock; a FakeClock makes delay() exact). */
  clock?: Clock;
}

type Dir = 'up' | 'down';
/** Bytes, or what the other end did: a FIN ('end') or a close/reset ('gone'). */
type Chunk = Buffer | 'end' | 'gone';

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
  /** Chunks not yet written, per direction, in order: delayed ones wait for `due`, all wait while stalled. */
  queue: Record<Dir, Array<{ chunk: Chunk; due: number }>>;
  timer: Record<Dir, ClockTimer | undefined>;
}

export interface TcpProxyEvents {
  /** A client connected and its upstream connection is open. */
  connection: [];
  /** A pair is gone (both sockets closed). */
  closed: [];
  /** A chunk arrived and was held back (stalled or delayed) instead of written at once. */
  held: [dir: 'up' | 'down'];
}

export class TcpProxy extends EventEmitter<TcpProxyEvents> {
  readonly #server: net.Server;
  readonly #opts: Required<Omit<TcpProxyOptions, 'clock'>>;
  readonly #clock: Clock;
  readonly #pairs = new Set<Pair>();
  #stalled = false;
  #refusing = false;
  #delayMs = 0;
  #connections = 0;
  port = 0;
  /** Sees every chunk as it arrives, before any fault applies ('up' = client → target). */
  tap: ((dir: 'up' | 'down', chunk: Buffer) => void) | null = null;

  private constructor(opts: TcpProxyOptions) {
    super();
    const { clock, ...rest } = opts;
    this.#opts = { targetHost: '127.0.0.1', listenPort: 0, listenHost: '127.0.0.1', ...rest };
    this.#clock = clock ?? systemClock;
    this.#server = net.createServer({ allowHalfOpen: true }, (client) => this.#accept(client));
  }

  static async start(opts: TcpProxyOptions): Promise<TcpProxy> {
    const proxy = new TcpProxy(opts);
    await new Promise<void>((resolve, reject) => {
      proxy.#server.once('error', reject);
      proxy.#server.listen(proxy.#opts.listenPort, proxy.#opts.listenHost, () => resolve());
    });
    proxy.port = (proxy.#server.address() as net.AddressInfo).port;
    return proxy;
  }

  /** ws://host:port/agent through the proxy. */
  get agentUrl(): string {
    return `ws://${this.#opts.listenHost}:${this.port}/agent`;
  }

  /** Pairs currently open. */
  get active(): number {
    return this.#pairs.size;
  }

  /** Connections accepted and joined to the target since start. */
  get connections(): number {
    return this.#connections;
  }

  /** Bytes queued in one direction, over every open pair: what a stall or a delay holds back. */
  heldBytes(dir: Dir): number {
    let n = 0;
    for (const p of this.#pairs) for (const { chunk } of p.queue[dir]) if (Buffer.isBuffer(chunk)) n += chunk.length;
    return n;
  }

  /** Points new connections at another port (a hub restarted elsewhere). */
  retarget(port: number): void {
    this.#opts.targetPort = port;
  }

  /** Resets every open connection, both sides at once (a crashed NAT box or a pulled cable noticed by both ends). */
  cut(): void {
    for (const p of this.#pairs) {
      p.client.resetAndDestroy();
      p.upstream.resetAndDestroy();
    }
  }

  /** Stops moving bytes in both directions without closing anything; new connections hang too. */
  stall(): void {
    this.#stalled = true;
  }

  /** Delivers what was held back and moves bytes again. */
  resume(): void {
    this.#stalled = false;
    for (const p of this.#pairs) {
      this.#pump(p, 'up');
      this.#pump(p, 'down');
    }
  }

  /** Adds this much latency to every chunk, each direction (0 = none). */
  delay(ms: number): void {
    this.#delayMs = ms;
  }

  /** While on, new connections are reset at once (the hub looks down); open ones are left alone. */
  refuse(on: boolean): void {
    this.#refusing = on;
  }

  /** Resolves at the next joined connection, or rejects when the signal fires. */
  async nextConnection(signal: AbortSignal): Promise<void> {
    await once(this, 'connection', { signal });
  }

  async close(): Promise<void> {
    this.#stalled = false;
    for (const p of this.#pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: net.Socket): void {
    client.on('error', () => undefined);
    if (this.#refusing) {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect({ port: this.#opts.targetPort, host: this.#opts.targetHost, allowHalfOpen: true });
    upstream.on('error', () => undefined);
    const pair: Pair = { client, upstream, queue: { up: [], down: [] }, timer: { up: undefined, down: undefined } };
    this.#pairs.add(pair);
    let open = 2;
    const onClose = (dir: Dir) => () => {
      // The other side follows once what was queued for it is out (and not while stalled: a blackholed link carries no FIN).
      if (--open > 0) {
        this.#forward(pair, dir, 'gone');
        return;
      }
      pair.timer.up?.cancel();
      pair.timer.down?.cancel();
      this.#pairs.delete(pair);
      this.emit('closed');
    };
    client.on('close', onClose('up'));
    upstream.on('close', onClose('down'));
    upstream.once('connect', () => {
      this.#connections++;
      this.emit('connection');
    });
    client.on('data', (c: Buffer) => this.#forward(pair, 'up', c));
    upstream.on('data', (c: Buffer) => this.#forward(pair, 'down', c));
    client.on('end', () => this.#forward(pair, 'up', 'end'));
    upstream.on('end', () => this.#forward(pair, 'down', 'end'));
  }

  #forward(p: Pair, dir: Dir, chunk: Chunk): void {
    if (this.tap && Buffer.isBuffer(chunk)) this.tap(dir, chunk);
    const q = p.queue[dir];
    const last = q.at(-1)?.due ?? 0;
    q.push({ chunk, due: Math.max(this.#clock.now() + this.#delayMs, last) });
    this.#pump(p, dir);
    if (q.length > 0) this.emit('held', dir);
  }

  /** Writes every due chunk in order; stalled, it leaves them queued for resume(). */
  #pump(p: Pair, dir: Dir): void {
    if (this.#stalled) return;
    const q = p.queue[dir];
    const dst = dir === 'up' ? p.upstream : p.client;
    while (q.length > 0 && q[0]!.due <= this.#clock.now()) {
      const { chunk } = q.shift()!;
      if (dst.destroyed) continue;
      if (chunk === 'end') dst.end();
      else if (chunk === 'gone') dst.destroy();
      else dst.write(chunk);
    }
    if (q.length > 0 && !p.timer[dir]) {
      p.timer[dir] = this.#clock.setTimer(q[0]!.due - this.#clock.now(), () => {
        p.timer[dir] = undefined;
        this.#pump(p, dir);
      });
    }
  }
}
