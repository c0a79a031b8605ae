/**
 * Test-side clients for the simulated game server: a process launcher and raw
 * protocol clients written independently of sim/ (a codec bug must not be
 * able to hide itself on both ends).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SIM_MAIN = fileURLToPath(new URL('../../sim/main.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

export interface ReadyLine {
  event: 'ready';
  pid: number;
  game: string;
  ports: { game: number; query: number | null; rcon: number | null; control: number | null };
  saveDir: string | null;
  generation: number;
  commandLog: string | null;
}

export interface SimProcess {
  child: ChildProcess;
  ready: ReadyLine;
  /** Resolves when the process ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  /** Calls the control channel (POST when body given or method set). */
  control(route: string, body?: unknown, method?: 'GET' | 'POST'): Promise<unknown>;
  kill(): Promise<void>;
}

export async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'reconsync-sim-'));
  // Never throws: node:test skips the after hooks that follow a failed one, and a sim left running
  // (its close() registered after this) would keep the test process alive for ever.
  t.after(() => rm(dir, { recursive: true, force: true, maxRetries: 3 }).catch((err: unknown) => console.warn(`could not remove ${dir}: ${String(err)}`)));
  return dir;
}

/** Spawns sim/main.ts and waits for its ready line (10 s at most). */
export async function spawnSim(args: string[], t: { after(fn: () => Promise<void>): void }): Promise<SimProcess> {
  const child = spawn(process.execPath, ['--import', TSX, SIM_MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })));
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  t.after(kill);
  const ready = await new Promise<ReadyLine>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`sim not ready in 10 s; stderr:\n${err}`)), 10_000);
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(JSON.parse(out.slice(0, nl)) as ReadyLine);
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`sim exited with ${code} before ready; stderr:\n${err}`));
    });
  });
  const control = async (route: string, body?: unknown, method?: 'GET' | 'POST') => {
    const m = method ?? (body === undefined ? 'GET' : 'POST');
    const res = await fetch(`http://127.0.0.1:${ready.ports.control}${route}`, {
      method: m, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(5000),
    });
    const json: unknown = await res.json();
    if (!res.ok) throw new Error(`control ${route}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  return { child, ready, exited, stderr: () => err, control, kill };
}

/** Waits for the process to end, failing the test after ms. */
export async function exitWithin<T>(p: Promise<T>, ms: number, what = 'exit'): Promise<T> {
  return Promise.race([p, new Promise<T>((_r, reject) => setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms).unref())]);
}

// ---------------------------------------------------------------- A2S (UDP)

export const A2S_INFO = Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff, 0x54]), Buffer.from('Source Engine Query\0', 'latin1')]);

export function a2sWithChallenge(type: 0x54 | 0x55 | 0x56, challenge: number): Buffer {
  const head = type === 0x54 ? A2S_INFO : Buffer.from([0xff, 0xff, 0xff, 0xff, type]);
  const c = Buffer.alloc(4);
  c.writeUInt32LE(challenge >>> 0);
  return Buffer.concat([head, c]);
}

export interface UdpReply { payload: Buffer; datagrams: number }

/**
 * One client socket (the server's challenges are bound to the client's address
 * and port, as a real server's are). ask() sends a datagram and reassembles the
 * reply, plain or split; it rejects after ms.
 */
export class UdpClient {
  readonly #sock = dgram.createSocket('udp4');
  #onMessage: ((msg: Buffer) => void) | null = null;
  constructor(readonly port: number) {
    this.#sock.on('message', (msg) => this.#onMessage?.(msg));
  }

  async ask(req: Buffer, ms = 2000): Promise<UdpReply> {
    const parts = new Map<number, Buffer>();
    let datagrams = 0;
    const result = new Promise<UdpReply>((resolve, reject) => {
      this.#onMessage = (msg) => {
        datagrams += 1;
        const head = msg.readInt32LE(0);
        if (head === -1) return resolve({ payload: msg.subarray(4), datagrams });
        if (head !== -2) return reject(new Error(`bad header ${head}`));
        const total = msg[8]!;
        parts.set(msg[9]!, msg.subarray(12));
        if (parts.size === total) {
          const whole = Buffer.concat([...Array(total).keys()].map((i) => parts.get(i)!));
          if (whole.readInt32LE(0) !== -1) return reject(new Error('reassembled reply lacks FF FF FF FF'));
          resolve({ payload: whole.subarray(4), datagrams });
        }
      };
    });
    this.#sock.send(req, this.port, '127.0.0.1');
    try {
      return await exitWithin(result, ms, 'UDP reply');
    } finally {
      this.#onMessage = null;
    }
  }

  close(): void {
    this.#sock.close();
  }
}

/** A fresh client for one exchange. */
export async function udpAsk(port: number, req: Buffer, ms = 2000): Promise<UdpReply> {
  const c = new UdpClient(port);
  try {
    return await c.ask(req, ms);
  } finally {
    c.close();
  }
}

/** Reads NUL-terminated strings and little-endian numbers. */
export class Reader {
  off = 0;
  constructor(readonly buf: Buffer) {}
  byte(): number { return this.buf[this.off++]!; }
  int16(): number { const v = this.buf.readUInt16LE(this.off); this.off += 2; return v; }
  int32(): number { const v = this.buf.readInt32LE(this.off); this.off += 4; return v; }
  uint32(): number { const v = this.buf.readUInt32LE(this.off); this.off += 4; return v; }
  uint64(): bigint { const v = this.buf.readBigUInt64LE(this.off); this.off += 8; return v; }
  float(): number { const v = this.buf.readFloatLE(this.off); this.off += 4; return v; }
  string(): string {
    const end = this.buf.indexOf(0, this.off);
    const s = this.buf.toString('utf8', this.off, end);
    this.off = end + 1;
    return s;
  }
}

// ---------------------------------------------------------------- Source RCON (TCP)

export interface Packet { id: number; type: number; body: Buffer }

export class RawRcon {
  #buf = Buffer.alloc(0);
  #queue: Packet[] = [];
  #waiter: (() => void) | null = null;
  private constructor(readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, c]);
      while (this.#buf.length >= 4 && this.#buf.length >= 4 + this.#buf.readInt32LE(0)) {
        const size = this.#buf.readInt32LE(0);
        this.#queue.push({ id: this.#buf.readInt32LE(4), type: this.#buf.readInt32LE(8), body: this.#buf.subarray(12, 4 + size - 2) });
        this.#buf = this.#buf.subarray(4 + size);
      }
      this.#waiter?.();
    });
    socket.on('close', () => this.#waiter?.());
  }

  static async connect(port: number): Promise<RawRcon> {
    const s = net.connect(port, '127.0.0.1');
    await once(s, 'connect');
    return new RawRcon(s);
  }

  send(id: number, type: number, body: string): void {
    this.socket.write(packet(id, type, body));
  }

  /** Next packet, or rejects after ms (or when the socket closes). */
  async next(ms = 2000): Promise<Packet> {
    const deadline = Date.now() + ms;
    while (this.#queue.length === 0) {
      if (this.socket.destroyed || this.socket.readableEnded) throw new Error('connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no RCON packet within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#waiter = null;
    }
    return this.#queue.shift()!;
  }

  close(): void {
    this.socket.destroy();
  }
}

export function packet(id: number, type: number, body: string): Buffer {
  const b = Buffer.from(body, 'utf8');
  const out = Buffer.alloc(14 + b.length);
  out.writeInt32LE(10 + b.length, 0);
  out.writeInt32LE(id, 4);
  out.writeInt32LE(type, 8);
  b.copy(out, 12);
  return out;
}

// ---------------------------------------------------------------- line-oriented TCP (telnet)

export class LineClient {
  #text = '';
  #waiter: (() => void) | null = null;
  private constructor(readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => {
      this.#text += c.toString('utf8');
      this.#waiter?.();
    });
    socket.on('close', () => this.#waiter?.());
  }

  static async connect(port: number): Promise<LineClient> {
    const s = net.connect(port, '127.0.0.1');
    await once(s, 'connect');
    return new LineClient(s);
  }

  /** Resolves with everything up to and including the first match; consumes it. */
  async until(re: RegExp, ms = 3000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = re.exec(this.#text);
      if (m) {
        const upto = this.#text.slice(0, m.index + m[0].length);
        this.#text = this.#text.slice(m.index + m[0].length);
        return upto;
      }
      if (this.socket.destroyed || this.socket.readableEnded) throw new Error(`closed before ${re}; got ${JSON.stringify(this.#text)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${re} within ${ms} ms; got ${JSON.stringify(this.#text)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#waiter = null;
    }
  }

  line(text: string): void {
    this.socket.write(`${text}\r\n`);
  }

  async closed(ms = 3000): Promise<void> {
    if (this.socket.destroyed || this.socket.readableEnded) return;
    await exitWithin(once(this.socket, 'close'), ms, 'socket close');
  }
}
