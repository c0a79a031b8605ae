/**
 * A Minecraft Java status responder (Server List Ping) on 127.0.0.1:0. It reads
 * the handshake and status request and answers the status JSON, optionally in
 * two TCP chunks, or with raw bytes (hostile length).
 */
import net from 'node:net';
import { once } from 'node:events';
import { decodeVarInt, encodeVarInt } from '../../../../agent/monitors/query/minecraft-ping.ts';

export interface SlpFakeOptions {
  status: unknown;
  /** Send the reply in two chunks with a pause between. */
  split?: boolean;
  raw?: Buffer;
  /** Never answer. */
  stall?: boolean;
}

export class SlpFake {
  readonly server: net.Server;
  readonly sockets = new Set<net.Socket>();
  handshakes: Array<{ protocol: number; host: string; port: number; next: number }> = [];

  constructor(public options: SlpFakeOptions) {
    this.server = net.createServer((s) => this.#onConnection(s));
  }

  async start(): Promise<number> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return (this.server.address() as net.AddressInfo).port;
  }

  #onConnection(socket: net.Socket): void {
    socket.on('error', () => undefined);
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    let buf = Buffer.alloc(0);
    let packets = 0;
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const len = decodeVarInt(buf, 0);
        if (!len || buf.length < len.next + len.value) return;
        const body = buf.subarray(len.next, len.next + len.value);
        buf = buf.subarray(len.next + len.value);
        packets++;
        if (packets === 1) {
          const id = decodeVarInt(body, 0)!;
          const proto = decodeVarInt(body, id.next)!;
          const hostLen = decodeVarInt(body, proto.next)!;
          const host = body.toString('utf8', hostLen.next, hostLen.next + hostLen.value);
          const port = body.readUInt16BE(hostLen.next + hostLen.value);
          const next = decodeVarInt(body, hostLen.next + hostLen.value + 2)!;
          this.handshakes.push({ protocol: proto.value, host, port, next: next.value });
        } else if (packets === 2) {
          this.#reply(socket);
        }
      }
    });
  }

  #reply(socket: net.Socket): void {
    if (this.options.stall) return;
    if (this.options.raw) {
      socket.write(this.options.raw);
      return;
    }
    const json = Buffer.from(JSON.stringify(this.options.status), 'utf8');
    const body = Buffer.concat([encodeVarInt(0), encodeVarInt(json.length), json]);
    const pkt = Buffer.concat([encodeVarInt(body.length), body]);
    if (!this.options.split) {
      socket.write(pkt);
      return;
    }
    socket.write(pkt.subarray(0, 7));
    setTimeout(() => socket.write(pkt.subarray(7)), 20);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
