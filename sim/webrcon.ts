import http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { z } from 'zod';
import type { Listener, SimContext } from './context.ts';
import { listen, tracked } from './tcp.ts';
import { errorMessage } from '../lib/error-message.ts';

/** Largest request accepted (Rust's own limit is far lower; commands are short). */
const MAX_PAYLOAD = 64 * 1024;

const RequestSchema = z.object({
  Identifier: z.number().int(),
  Message: z.string(),
  Name: z.string().optional(),
});

export interface WebRconMessage {
  Message: string;
  Identifier: number;
  Type: 'Generic' | 'Chat' | 'Warning' | 'Error';
  Stacktrace: string;
}

/**
 * Rust WebRCON (games.md): ws://host:port/<password>. A wrong password is
 * refused before the upgrade (401). Replies echo the Identifier; console
 * lines (Identifier 0) and chat (Identifier -1) arrive unasked, so a client
 * must match replies by Identifier.
 */
export async function startWebRconServer(ctx: SimContext, host: string, port: number): Promise<Listener> {
  const server = http.createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('WebSocket upgrade required\n');
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_PAYLOAD });
  const clients = new Set<WebSocket>();
  const sendAll = (m: WebRconMessage) => {
    for (const ws of clients) ws.send(JSON.stringify(m));
  };

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const given = decodeURIComponent((req.url ?? '/').split('?')[0]!.slice(1));
    if (given !== ctx.options.rconPassword) {
      ctx.log('webrcon: bad password; upgrade refused');
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => serve(ctx, ws, `${req.socket.remoteAddress}:${req.socket.remotePort}`, clients));
  });

  const unsubscribe = ctx.onBroadcast((message) => sendAll(chat('SERVER', message)));
  const chatTimer = ctx.options.webrcon.chatIntervalMs > 0
    ? setInterval(() => {
      if (ctx.hung || clients.size === 0) return;
      const speaker = ctx.players()[0]?.name ?? 'Wanderer';
      sendAll(chat(speaker, 'anyone up for a raid?'));
    }, ctx.options.webrcon.chatIntervalMs)
    : null;
  chatTimer?.unref();

  const bound = await listen(server, host, port);
  const inner = tracked(server, bound);
  return {
    port: bound,
    async close(graceMs) {
      unsubscribe();
      if (chatTimer) clearInterval(chatTimer);
      for (const ws of clients) ws.close(1001, 'server shutting down');
      await inner.close(graceMs);
      for (const ws of clients) ws.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}

function serve(ctx: SimContext, ws: WebSocket, remote: string, clients: Set<WebSocket>): void {
  clients.add(ws);
  ws.on('close', () => clients.delete(ws));
  ws.on('error', () => undefined);
  let chain = Promise.resolve();
  const send = (m: WebRconMessage) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(m));
  };
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    const parsed = RequestSchema.safeParse(safeJson(String(data)));
    if (!parsed.success) {
      ctx.log(`webrcon: ignored malformed message from ${remote}`);
      return;
    }
    const req = parsed.data;
    chain = chain.then(async () => {
      await ctx.responsive();
      const out = await ctx.exec(req.Message, 'webrcon', remote);
      if (ctx.options.webrcon.consoleNoise) {
        send({ Message: `[ServerVar] ${remote} executed: ${req.Message}`, Identifier: 0, Type: 'Generic', Stacktrace: '' });
      }
      send({ Message: out, Identifier: req.Identifier, Type: 'Generic', Stacktrace: '' });
    }).catch((err: unknown) => ctx.log(`webrcon: ${errorMessage(err)}`));
  });
}

/** Rust chat: Type "Chat", Identifier -1, the message itself a JSON string. */
function chat(username: string, message: string): WebRconMessage {
  const body = { Channel: 0, Message: message, UserId: '0', Username: username, Color: '#5af', Time: Math.floor(Date.now() / 1000) };
  return { Message: JSON.stringify(body), Identifier: -1, Type: 'Chat', Stacktrace: '' };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
