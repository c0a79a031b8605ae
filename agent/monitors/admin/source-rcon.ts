/**
 * Source RCON client for ARK, ASA, Project Zomboid and Minecraft.
 *
 * Hand-written on purpose: rcon-client is Minecraft-shaped, rcon-srcds assumes
 * srcds' multi-packet echo, and neither handles ARK (one request at a time, one
 * reply, "Server received, But no response!!" for empty output) together with
 * Minecraft (single auth reply, 4096-char split). The protocol is small; the
 * codec is pure and fed raw bytes in tests (source-rcon-codec.ts).
 *
 * Dialects:
 * - srcds: after EXECCOMMAND id N, send an empty RESPONSE_VALUE id N+1 and
 *   collect bodies until its echo arrives (Valve wiki). A server that never
 *   echoes ends the reply after `quietMs` of silence instead.
 * - minecraft: one reply, continued while a part is exactly 4096 chars long.
 * - ark: exactly one reply packet; nothing else is sent while waiting.
 * Auth is the same for all: wait for AUTH_RESPONSE (srcds sends an empty
 * RESPONSE_VALUE first, Minecraft does not); id -1 means a wrong password.
 */
import type net from 'node:net';
import { ReconSyncError } from '../../../protocol/errors.ts';
import {
  AdminChannelError, DefaultAdminTimeouts, SerialQueue, withDeadline,
  type AdminTimeouts, type AdminTransport, type ExecOptions,
} from './common.ts';
import { connectTcp } from './tcp.ts';
import { DEFAULT_MAX_PACKET_SIZE, PacketDecoder, PacketType, RconProtocolError, encodePacket, type RconPacket } from './source-rcon-codec.ts';
import { errorCodeOrMessage } from '../../../lib/error-message.ts';

export type RconDialect = 'srcds' | 'minecraft' | 'ark';

export interface SourceRconOptions extends Partial<AdminTimeouts> {
  host: string;
  port: number;
  password: string | null;
  dialect: RconDialect;
  /** Largest packet accepted from the server. */
  maxPacketSize?: number;
}

/** srcds rejects packets over 4096 bytes; keep commands under that for every dialect. */
export const MAX_COMMAND_BYTES = 4096 - 14;
/** Minecraft splits its output into parts of this many chars. */
export const MINECRAFT_PART_CHARS = 4096;
const ARK_EMPTY_REPLY = /^Server received, But no response!!/;
const MAX_ID = 0x7fff_fff0;

/** The packets of one TCP connection, read one at a time by the single request in flight. */
class RconConnection {
  readonly #queue: RconPacket[] = [];
  #waiter: ((p: RconPacket | Error) => void) | null = null;
  #failure: Error | null = null;
  readonly #decoder: PacketDecoder;

  constructor(readonly socket: net.Socket, maxPacketSize: number) {
    this.#decoder = new PacketDecoder({ maxPacketSize });
    socket.on('data', (chunk: Buffer) => {
      let packets: RconPacket[];
      try {
        packets = this.#decoder.push(chunk);
      } catch (err) {
        this.#fail(new AdminChannelError('protocol', `RCON server sent a malformed packet: ${(err as RconProtocolError).message}`, { cause: err }));
        socket.destroy();
        return;
      }
      for (const p of packets) this.#deliver(p);
    });
    socket.on('error', (err) => this.#fail(new AdminChannelError('closed', `RCON connection failed: ${errorCodeOrMessage(err)}`, { cause: err })));
    socket.on('close', () => this.#fail(new AdminChannelError('closed', 'RCON server closed the connection')));
  }

  get failed(): boolean {
    return this.#failure !== null;
  }

  #deliver(p: RconPacket | Error): void {
    const w = this.#waiter;
    if (w) {
      this.#waiter = null;
      w(p);
    } else if (!(p instanceof Error)) this.#queue.push(p);
  }

  #fail(err: Error): void {
    if (this.#failure) return;
    this.#failure = err;
    this.#deliver(err);
  }

  send(p: RconPacket): void {
    this.socket.write(encodePacket(p));
  }

  /** The next packet; rejects when the connection fails or `signal` aborts. */
  next(signal: AbortSignal): Promise<RconPacket> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.#waiter = null;
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiter = (p) => {
        signal.removeEventListener('abort', onAbort);
        if (p instanceof Error) reject(p);
        else resolve(p);
      };
    });
  }

  /** Like next(), but resolves null after `ms` without a packet (the reply is complete). */
  nextWithin(ms: number, signal: AbortSignal): Promise<RconPacket | null> {
    const quiet = new AbortController();
    const timer = setTimeout(() => quiet.abort(), ms);
    const both = AbortSignal.any([signal, quiet.signal]);
    return this.next(both).then(
      (p) => {
        clearTimeout(timer);
        return p;
      },
      (err: unknown) => {
        clearTimeout(timer);
        if (quiet.signal.aborted && !signal.aborted) return null;
        throw err;
      },
    );
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export class SourceRconClient implements AdminTransport {
  readonly #opts: Required<Omit<SourceRconOptions, 'password'>> & { password: string | null };
  readonly #queue = new SerialQueue();
  #conn: RconConnection | null = null;
  #nextId = 1;
  #closed = false;

  constructor(options: SourceRconOptions) {
    this.#opts = { ...DefaultAdminTimeouts, maxPacketSize: DEFAULT_MAX_PACKET_SIZE, ...options };
  }

  get #where(): string {
    return `${this.#opts.host}:${this.#opts.port}`;
  }

  #allocId(count: number): number {
    if (this.#nextId + count > MAX_ID) this.#nextId = 1;
    const id = this.#nextId;
    this.#nextId += count;
    return id;
  }

  exec(command: string, opts: ExecOptions = {}): Promise<string> {
    if (Buffer.byteLength(command) > MAX_COMMAND_BYTES) {
      return Promise.reject(new ReconSyncError('INVALID_PARAMS', `RCON command is longer than ${MAX_COMMAND_BYTES} bytes`));
    }
    return this.#queue.run(async () => {
      if (this.#closed) throw new AdminChannelError('closed', 'the RCON client was closed');
      const conn = await this.#connection(opts.signal);
      try {
        return await withDeadline((signal) => this.#request(conn, command, signal), {
          timeoutMs: this.#opts.requestTimeoutMs,
          signal: opts.signal,
          onTimeout: () => new AdminChannelError('timeout', `RCON ${this.#where} did not answer "${command.split(' ')[0]}" within ${this.#opts.requestTimeoutMs} ms`),
          // A late reply must not be read as the answer to the next command.
          cleanup: () => this.#drop(conn),
        });
      } catch (err) {
        this.#drop(conn);
        if (opts.allowDisconnect && err instanceof AdminChannelError && err.reason === 'closed') return '';
        throw err;
      }
    });
  }

  async #request(conn: RconConnection, command: string, signal: AbortSignal): Promise<string> {
    const { dialect } = this.#opts;
    const id = this.#allocId(2);
    conn.send({ id, type: PacketType.EXECCOMMAND, body: command });
    if (dialect === 'ark') {
      for (;;) {
        const p = await conn.next(signal);
        if (p.id !== id) continue; // a stale answer to an earlier, timed-out request
        return ARK_EMPTY_REPLY.test(p.body) ? '' : p.body;
      }
    }
    if (dialect === 'srcds') conn.send({ id: id + 1, type: PacketType.RESPONSE_VALUE, body: '' });
    const parts: string[] = [];
    for (;;) {
      // Minecraft: a part shorter than 4096 chars is the last. srcds: the echo ends it, or silence if the server has no echo.
      const p = parts.length === 0 ? await conn.next(signal) : await conn.nextWithin(this.#opts.quietMs, signal);
      if (p === null) break;
      if (dialect === 'srcds' && p.id === id + 1) break;
      if (p.id !== id) continue;
      parts.push(p.body);
      if (dialect === 'minecraft' && p.body.length < MINECRAFT_PART_CHARS) break;
    }
    return parts.join('');
  }

  #drop(conn: RconConnection): void {
    conn.destroy();
    if (this.#conn === conn) this.#conn = null;
  }

  async #connection(signal: AbortSignal | undefined): Promise<RconConnection> {
    if (this.#conn && !this.#conn.failed) return this.#conn;
    this.#conn = null;
    const { password } = this.#opts;
    if (!password) throw new AdminChannelError('config', `no rcon.password set for RCON ${this.#where}`);
    const socket = await withDeadline((s) => connectTcp(this.#opts.host, this.#opts.port, s), {
      timeoutMs: this.#opts.connectTimeoutMs,
      signal,
      onTimeout: () => new AdminChannelError('connect', `cannot connect to RCON ${this.#where} within ${this.#opts.connectTimeoutMs} ms`),
    });
    const conn = new RconConnection(socket, this.#opts.maxPacketSize);
    try {
      await withDeadline((s) => this.#authenticate(conn, password, s), {
        timeoutMs: this.#opts.authTimeoutMs,
        signal,
        onTimeout: () => new AdminChannelError('auth', `RCON ${this.#where} did not answer the login within ${this.#opts.authTimeoutMs} ms`),
      });
    } catch (err) {
      conn.destroy();
      if (err instanceof AdminChannelError && err.reason === 'closed') {
        throw new AdminChannelError('auth', `RCON ${this.#where} closed the connection during login; check rcon.password`, { cause: err });
      }
      throw err;
    }
    this.#conn = conn;
    return conn;
  }

  async #authenticate(conn: RconConnection, password: string, signal: AbortSignal): Promise<void> {
    const id = this.#allocId(1);
    conn.send({ id, type: PacketType.AUTH, body: password });
    for (;;) {
      const p = await conn.next(signal);
      // srcds sends an empty RESPONSE_VALUE before the AUTH_RESPONSE; skip it and anything else.
      if (p.type !== PacketType.AUTH_RESPONSE) continue;
      if (p.id === -1) throw new AdminChannelError('auth', `RCON ${this.#where} rejected the password; check rcon.password`);
      if (p.id === id) return;
    }
  }

  close(): Promise<void> {
    this.#closed = true;
    if (this.#conn) this.#drop(this.#conn);
    return Promise.resolve();
  }
}
