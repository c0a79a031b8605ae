import net from 'node:net';
import type { Listener, SimContext } from './context.ts';
import { listen, tracked } from './tcp.ts';

/** Protocol number of the Minecraft version the sim pretends to be (1.21.4). */
const MC_PROTOCOL = 769;
const MAX_PACKET = 32 * 1024;
/** Players listed in the status sample, like vanilla. */
const SAMPLE_SIZE = 12;

/**
 * Minecraft Server List Ping on the game port (TCP): handshake (next state 1),
 * status request -> status JSON, ping -> pong. Frames are varint length + varint id.
 */
export async function startServerListPing(ctx: SimContext, host: string, port: number): Promise<Listener> {
  const server = net.createServer((socket) => serve(ctx, socket));
  const bound = await listen(server, host, port);
  return tracked(server, bound);
}

function serve(ctx: SimContext, socket: net.Socket): void {
  let buf = Buffer.alloc(0);
  let state: 'handshake' | 'status' = 'handshake';
  let chain = Promise.resolve();
  socket.on('error', () => undefined);
  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    if (state === 'handshake' && buf[0] === 0xfe) {
      socket.destroy(); // legacy 1.6 ping: not simulated
      return;
    }
    for (;;) {
      const len = readVarInt(buf, 0);
      if (!len) return;
      if (len.value > MAX_PACKET || len.value < 1) return void socket.destroy();
      if (buf.length < len.size + len.value) return;
      const packet = buf.subarray(len.size, len.size + len.value);
      buf = buf.subarray(len.size + len.value);
      const id = readVarInt(packet, 0);
      if (!id) return void socket.destroy();
      const payload = packet.subarray(id.size);
      if (state === 'handshake') {
        if (id.value !== 0) return void socket.destroy();
        state = 'status';
        continue;
      }
      chain = chain.then(async () => {
        await ctx.responsive();
        if (socket.destroyed) return;
        if (id.value === 0) socket.write(frame(0, mcString(JSON.stringify(status(ctx)))));
        else if (id.value === 1) socket.end(frame(1, payload.subarray(0, 8)));
      });
    }
  });
}

function status(ctx: SimContext): unknown {
  const ps = ctx.players();
  return {
    version: { name: ctx.options.version, protocol: MC_PROTOCOL },
    players: {
      max: ctx.options.maxPlayers,
      online: ps.length,
      sample: ps.slice(0, SAMPLE_SIZE).map((p) => ({ name: p.name, id: uuidOf(p.id) })),
    },
    description: { text: ctx.options.serverName },
    enforcesSecureChat: false,
  };
}

function uuidOf(id: string): string {
  const h = id.padStart(32, '0').slice(-32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function readVarInt(buf: Buffer, offset: number): { value: number; size: number } | null {
  let value = 0;
  for (let i = 0; i < 5; i++) {
    const b = buf[offset + i];
    if (b === undefined) return null;
    value |= (b & 0x7f) << (7 * i);
    if ((b & 0x80) === 0) return { value, size: i + 1 };
  }
  return { value: -1, size: 5 };
}

export function writeVarInt(n: number): Buffer {
  const out: number[] = [];
  let v = n >>> 0;
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return Buffer.from(out);
}

function mcString(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([writeVarInt(b.length), b]);
}

function frame(id: number, payload: Buffer): Buffer {
  const body = Buffer.concat([writeVarInt(id), payload]);
  return Buffer.concat([writeVarInt(body.length), body]);
}
