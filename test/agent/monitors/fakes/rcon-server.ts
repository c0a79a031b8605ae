/**
 * A Source RCON server on 127.0.0.1:0 that behaves like the games do:
 * - srcds: empty RESPONSE_VALUE then AUTH_RESPONSE; long output in several
 *   packets; echoes an empty RESPONSE_VALUE (the multi-packet terminator).
 * - minecraft: a single AUTH_RESPONSE; output split into 4096-char parts;
 *   answers a type-0 packet with "Unknown request 0".
 * - ark: a single reply, "Server received, But no response!! " for empty
 *   output, and (like the real one) stalls for good when a second packet
 *   arrives before the first was answered.
 * `raw` lets a test answer a command with arbitrary bytes (hostile sizes).
 */
import net from 'node:net';
import { once } from 'node:events';
import { PacketDecoder, PacketType, encodePacket, type RconPacket } from '../../../../agent/monitors/admin/source-rcon-codec.ts';

export interface RconFakeOptions {
  password: string;
  dialect: 'srcds' | 'minecraft' | 'ark';
  /** Reply text for a command; null = never answer. Default: "ok <command>". */
  handler?: (command: string) => string | null;
  /** Bytes to write instead of a normal reply (hostile server). */
  raw?: (command: string) => Buffer | null;
  /** ARK answers after this delay; a packet that arrives meanwhile stalls the connection. */
  arkReplyDelayMs?: number;
  /** Close the socket on a wrong password instead of answering id -1. */
  closeOnWrongPassword?: boolean;
  /** srcds: part size for long output. */
  srcdsPartBytes?: number;
  /** srcds: ignore the empty RESPONSE_VALUE terminator (servers without the echo). */
  noEcho?: boolean;
  /** Commands after which the server closes the connection without answering (e.g. "quit"). */
  exitCommands?: string[];
}

export class RconFake {
  readonly server: net.Server;
  readonly commands: string[] = [];
  readonly sockets = new Set<net.Socket>();
  connections = 0;
  authAttempts = 0;

  constructor(public options: RconFakeOptions) {
    this.server = net.createServer((s) => this.#onConnection(s));
  }

  async start(): Promise<number> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return this.port;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  #onConnection(socket: net.Socket): void {
    this.connections++;
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    const decoder = new PacketDecoder();
    let authed = false;
    let stalled = false;
    let busy = false;
    const send = (p: RconPacket) => {
      if (!socket.destroyed) socket.write(encodePacket(p));
    };
    socket.on('data', (chunk) => {
      let packets: RconPacket[];
      try {
        packets = decoder.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const p of packets) {
        if (stalled) continue;
        if (this.options.dialect === 'ark' && busy) {
          stalled = true; // ARK's quirk: back-to-back packets and it never answers again
          continue;
        }
        if (p.type === PacketType.AUTH) {
          this.authAttempts++;
          const ok = p.body === this.options.password;
          if (!ok && this.options.closeOnWrongPassword) {
            socket.destroy();
            return;
          }
          authed = ok;
          if (this.options.dialect === 'srcds') send({ id: p.id, type: PacketType.RESPONSE_VALUE, body: '' });
          send({ id: ok ? p.id : -1, type: PacketType.AUTH_RESPONSE, body: '' });
          continue;
        }
        if (!authed) {
          socket.destroy();
          return;
        }
        if (p.type === PacketType.RESPONSE_VALUE) {
          if (this.options.dialect === 'srcds' && !this.options.noEcho) {
            send({ id: p.id, type: PacketType.RESPONSE_VALUE, body: '' });
            send({ id: p.id, type: PacketType.RESPONSE_VALUE, body: '\u0000\u0001\u0000\u0000' });
          } else if (this.options.dialect === 'minecraft') {
            send({ id: p.id, type: PacketType.RESPONSE_VALUE, body: 'Unknown request 0' });
          }
          continue;
        }
        this.commands.push(p.body);
        if (this.options.exitCommands?.includes(p.body)) {
          socket.destroy();
          continue;
        }
        const raw = this.options.raw?.(p.body);
        if (raw) {
          socket.write(raw);
          continue;
        }
        const reply = this.options.handler ? this.options.handler(p.body) : `ok ${p.body}`;
        if (reply === null) continue;
        if (this.options.dialect === 'ark') {
          busy = true;
          setTimeout(() => {
            busy = false;
            if (!stalled) send({ id: p.id, type: PacketType.RESPONSE_VALUE, body: reply === '' ? 'Server received, But no response!! \n' : reply });
          }, this.options.arkReplyDelayMs ?? 20);
        } else {
          const size = this.options.dialect === 'minecraft' ? 4096 : this.options.srcdsPartBytes ?? 4000;
          const parts = reply === '' ? [''] : [];
          for (let o = 0; o < reply.length; o += size) parts.push(reply.slice(o, o + size));
          for (const part of parts) send({ id: p.id, type: PacketType.RESPONSE_VALUE, body: part });
        }
      }
    });
  }

  /** Drops every open connection (a game restart). */
  dropAll(): void {
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
