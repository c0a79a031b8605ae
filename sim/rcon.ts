import net from 'node:net';
import type { Listener, SimContext } from './context.ts';
import { encodeRcon, RconDecoder, RconType, splitBody, type RconPacket } from './rcon-codec.ts';
import { listen, remoteOf, tracked } from './tcp.ts';
import { errorMessage } from '../lib/error-message.ts';

/** Largest packet accepted from a client; real servers stop near 4 KiB, we are lenient. */
const MAX_CLIENT_PACKET = 64 * 1024;
/** SRCDS follows the mirrored empty packet with this body (Valve wiki "Multiple-packet Responses"). */
const MIRROR_TRAILER = Buffer.from([0x00, 0x01, 0x00, 0x00]);

/**
 * Source RCON server in three dialects (games.md):
 * - srcds:     auth = empty RESPONSE_VALUE then AUTH_RESPONSE (id or -1); an empty
 *              RESPONSE_VALUE from the client is mirrored back (long-output terminator).
 * - minecraft: auth = one AUTH_RESPONSE; other packet types get "Unknown request <hex>".
 * - ark:       srcds auth; empty output becomes "Server received, But no response!!";
 *              a packet arriving while one is in flight is dropped, and the
 *              terminator trick is never answered (one request at a time).
 */
export async function startRconServer(ctx: SimContext, host: string, port: number): Promise<Listener> {
  const server = net.createServer((socket) => serve(ctx, socket));
  const bound = await listen(server, host, port);
  return tracked(server, bound);
}

function serve(ctx: SimContext, socket: net.Socket): void {
  const { dialect, maxBody, mirrorTrailer } = ctx.options.rcon;
  const remote = remoteOf(socket);
  const decoder = new RconDecoder(MAX_CLIENT_PACKET);
  let authed = false;
  let busy = false;
  let chain = Promise.resolve();
  const write = (id: number, type: number, body: string | Buffer = '') => {
    if (!socket.destroyed) socket.write(encodeRcon(id, type, body));
  };

  const handle = async (p: RconPacket): Promise<void> => {
    await ctx.responsive();
    if (socket.destroyed) return;
    if (p.type === RconType.AUTH) {
      authed = p.body === ctx.options.rconPassword;
      if (dialect !== 'minecraft') write(p.id, RconType.RESPONSE_VALUE);
      write(authed ? p.id : -1, RconType.AUTH_RESPONSE);
      if (!authed) ctx.log(`rcon: bad password from ${remote}`);
      return;
    }
    if (!authed) {
      // Minecraft answers with an auth failure; SRCDS-style servers drop the connection.
      if (dialect === 'minecraft') write(-1, RconType.AUTH_RESPONSE);
      else socket.destroy();
      return;
    }
    if (p.type === RconType.EXECCOMMAND) {
      const out = await ctx.exec(p.body, 'rcon', remote);
      for (const part of splitBody(out, maxBody)) write(p.id, RconType.RESPONSE_VALUE, part);
      return;
    }
    if (p.type === RconType.RESPONSE_VALUE) {
      if (dialect === 'srcds') {
        write(p.id, RconType.RESPONSE_VALUE);
        if (mirrorTrailer) write(p.id, RconType.RESPONSE_VALUE, MIRROR_TRAILER);
      } else if (dialect === 'minecraft') {
        write(p.id, RconType.RESPONSE_VALUE, `Unknown request ${p.type.toString(16)}`);
      }
      return;
    }
    if (dialect === 'minecraft') write(p.id, RconType.RESPONSE_VALUE, `Unknown request ${p.type.toString(16)}`);
  };

  socket.on('data', (chunk) => {
    let packets: RconPacket[];
    try {
      packets = decoder.push(chunk);
    } catch (err) {
      ctx.log(`rcon: ${errorMessage(err)} from ${remote}; closing`);
      socket.destroy();
      return;
    }
    for (const p of packets) {
      if (dialect === 'ark') {
        if (busy) {
          ctx.log(`rcon: dropped packet id ${p.id} sent while another was in flight (ARK stalls on back-to-back packets)`);
          continue;
        }
        busy = true;
      }
      chain = chain
        .then(() => handle(p))
        .catch((err: unknown) => ctx.log(`rcon: ${errorMessage(err)}`))
        .finally(() => {
          busy = false;
        });
    }
  });
  socket.on('error', () => undefined);
}
