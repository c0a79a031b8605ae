import http from 'node:http';
import { z } from 'zod';
import type { Listener, SimContext } from './context.ts';
import { listen, tracked } from './tcp.ts';
import { errorMessage } from '../lib/error-message.ts';

const MAX_BODY = 64 * 1024;
const PREFIX = '/v1/api/';

const AnnounceSchema = z.object({ message: z.string().min(1) });
const ShutdownSchema = z.object({ waittime: z.number().int().min(0).max(3600).default(0), message: z.string().optional() });
const PlayerTargetSchema = z.object({ userid: z.string(), message: z.string().optional() });

type Reply = { status: number; json?: unknown };
type Handler = (body: unknown) => Reply | Promise<Reply>;

/**
 * Palworld's REST API (games.md): Basic auth admin:<AdminPassword>; GET info,
 * players, settings, metrics; POST save, announce, shutdown, stop, kick.
 * POSTs answer 200 with an empty body, as the game does.
 */
export async function startPalworldRest(ctx: SimContext, host: string, port: number): Promise<Listener> {
  const o = ctx.options;
  const expected = `Basic ${Buffer.from(`admin:${o.rconPassword}`).toString('base64')}`;
  const ok: Reply = { status: 200 };

  const routes: Record<string, { method: 'GET' | 'POST'; action: string; handle: Handler }> = {
    info: {
      method: 'GET', action: 'info',
      handle: () => ({ status: 200, json: { version: o.version, servername: o.serverName, description: 'ReconSync simulated server', worldguid: o.world } }),
    },
    players: {
      method: 'GET', action: 'players',
      handle: () => ({
        status: 200,
        json: {
          players: ctx.players().map((p, i) => ({
            name: p.name, accountName: p.name.toLowerCase(), playerId: p.id.slice(-8), userId: `steam_${p.id}`,
            ip: '127.0.0.1', ping: 20 + i, location_x: 0, location_y: 0, level: 1 + p.score, building_count: 0,
          })),
        },
      }),
    },
    settings: {
      method: 'GET', action: 'info',
      handle: () => ({
        status: 200,
        json: {
          Difficulty: 'None', DayTimeSpeedRate: 1, NightTimeSpeedRate: 1, ExpRate: 1, ServerPlayerMaxNum: o.maxPlayers,
          ServerName: o.serverName, ServerDescription: '', PublicPort: ctx.ports.game, RESTAPIEnabled: true,
          RESTAPIPort: ctx.ports.rcon, bIsMultiplay: false, bIsPvP: false, AutoSaveSpan: 30,
        },
      }),
    },
    metrics: {
      method: 'GET', action: 'info',
      handle: () => ({
        status: 200,
        json: {
          serverfps: 60, currentplayernum: ctx.players().length, serverframetime: 16.67, maxplayernum: o.maxPlayers,
          uptime: Math.floor((Date.now() - ctx.startedAt) / 1000), days: 1,
        },
      }),
    },
    save: { method: 'POST', action: 'save', handle: async () => (await ctx.saveAck('rest'), ok) },
    announce: {
      method: 'POST', action: 'broadcast',
      handle: (body) => {
        const b = AnnounceSchema.safeParse(body);
        if (!b.success) return { status: 400, json: { error: 'message is required' } };
        ctx.broadcast(b.data.message, 'rest');
        return ok;
      },
    },
    shutdown: {
      method: 'POST', action: 'stop',
      handle: (body) => {
        const b = ShutdownSchema.safeParse(body ?? {});
        if (!b.success) return { status: 400, json: { error: 'waittime must be a whole number of seconds' } };
        if (b.data.message) ctx.broadcast(b.data.message, 'rest');
        ctx.requestStop('REST shutdown', b.data.waittime * 1000);
        return ok;
      },
    },
    stop: { method: 'POST', action: 'stop', handle: () => (ctx.requestStop('REST force stop', 0, false), ok) },
    kick: { method: 'POST', action: 'kick', handle: (body) => (PlayerTargetSchema.safeParse(body).success ? ok : { status: 400 }) },
    ban: { method: 'POST', action: 'ban', handle: (body) => (PlayerTargetSchema.safeParse(body).success ? ok : { status: 400 }) },
    unban: { method: 'POST', action: 'unban', handle: (body) => (PlayerTargetSchema.safeParse(body).success ? ok : { status: 400 }) },
  };

  const server = http.createServer((req, res) => {
    const remote = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
    const send = (r: Reply) => {
      if (r.json === undefined) res.writeHead(r.status, { 'content-length': 0 }).end();
      else res.writeHead(r.status, { 'content-type': 'application/json' }).end(JSON.stringify(r.json));
    };
    void (async () => {
      const body = await readBody(req);
      await ctx.responsive();
      if (req.headers.authorization !== expected) {
        ctx.log(`rest: unauthorized ${req.method} ${req.url} from ${remote}`);
        res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Basic realm="palworld"' }).end('Unauthorized');
        return;
      }
      const url = (req.url ?? '/').split('?')[0]!;
      const route = url.startsWith(PREFIX) ? routes[url.slice(PREFIX.length)] : undefined;
      if (!route) return send({ status: 404, json: { error: 'not found' } });
      if (req.method !== route.method) return send({ status: 405, json: { error: `use ${route.method}` } });
      const args = body.kind === 'json' && body.value !== null && typeof body.value === 'object' ? JSON.stringify(body.value) : '';
      ctx.record({ channel: 'rest', command: `${req.method} ${url}`, action: route.action, args, remote });
      if (body.kind === 'invalid') return send({ status: 400, json: { error: 'body is not JSON' } });
      send(await route.handle(body.kind === 'json' ? body.value : undefined));
    })().catch((err: unknown) => {
      ctx.log(`rest: ${errorMessage(err)}`);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  const bound = await listen(server, host, port);
  return tracked(server, bound);
}

type Body = { kind: 'none' } | { kind: 'json'; value: unknown } | { kind: 'invalid' };

async function readBody(req: http.IncomingMessage): Promise<Body> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) return { kind: 'invalid' };
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return { kind: 'none' };
  try {
    return { kind: 'json', value: JSON.parse(text) as unknown };
  } catch {
    return { kind: 'invalid' };
  }
}
