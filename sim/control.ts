import http from 'node:http';
import { z } from 'zod';
import type { CommandLogEntry, Listener } from './context.ts';
import { SimPlayerSchema, type SimPlayerInput } from './options.ts';
import { listen, tracked } from './tcp.ts';
import { errorMessage } from '../lib/error-message.ts';

const MAX_BODY = 256 * 1024;

const CrashSchema = z.object({
  code: z.number().int().min(0).max(255).optional(),
  signal: z.enum(['SIGKILL', 'SIGSEGV', 'SIGABRT', 'SIGTERM']).optional(),
}).strict();
const PlayersSchema = z.object({
  players: z.array(z.union([z.string(), SimPlayerSchema])).max(10_000),
  max: z.number().int().min(0).max(10_000).optional(),
}).strict();
const SaveDurationSchema = z.object({ ms: z.number().int().min(0).max(3_600_000) }).strict();

type Route = (body: unknown) => unknown;

/**
 * The knobs the control channel turns, as it needs them (results are only serialised).
 * Named here rather than taken from SimServer: game-server.ts starts this channel, and
 * control.ts importing it back tied the two into a loop. SimServer passes itself.
 */
export interface SimControls {
  snapshot(): unknown;
  readonly commands: readonly CommandLogEntry[];
  worldFiles(): Promise<string[]>;
  hang(): void;
  resume(): void;
  crash(codeOrSignal: number | NodeJS.Signals): void;
  setPlayers(players: SimPlayerInput[], maxPlayers?: number): void;
  players(): readonly unknown[];
  setSaveDuration(ms: number): void;
  save(trigger: string): Promise<unknown>;
  stop(reason: string): Promise<unknown>;
}

/**
 * The fault-injection channel: plain HTTP + JSON on loopback, never affected
 * by hang(). Every knob the SimServer has in-process is here for a CLI sim.
 *   GET  /state | /commands | /files
 *   POST /hang | /resume | /crash {code?|signal?} | /players {players, max?}
 *        /save-duration {ms} | /save | /stop
 */
export async function startControlServer(sim: SimControls, host: string, port: number): Promise<Listener> {
  const routes: Record<string, Route> = {
    'GET /state': () => sim.snapshot(),
    'GET /commands': () => sim.commands,
    'GET /files': () => sim.worldFiles(),
    'POST /hang': () => (sim.hang(), { ok: true }),
    'POST /resume': () => (sim.resume(), { ok: true }),
    'POST /crash': (body) => {
      const b = CrashSchema.parse(body ?? {});
      // After the reply is out: a crash that swallowed its own answer would look like a control failure.
      setTimeout(() => sim.crash(b.signal ?? b.code ?? 1), 10);
      return { ok: true };
    },
    'POST /players': (body) => {
      const b = PlayersSchema.parse(body);
      sim.setPlayers(b.players, b.max);
      return { ok: true, players: sim.players().length };
    },
    'POST /save-duration': (body) => (sim.setSaveDuration(SaveDurationSchema.parse(body).ms), { ok: true }),
    'POST /save': async () => ({ ok: true, save: await sim.save('control') }),
    'POST /stop': () => {
      setTimeout(() => void sim.stop('control'), 10);
      return { ok: true };
    },
  };

  const server = http.createServer((req, res) => {
    void (async () => {
      const route = routes[`${req.method} ${(req.url ?? '/').split('?')[0]}`];
      if (!route) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: false, error: 'no such control route' }));
        return;
      }
      try {
        const text = await readText(req);
        const body: unknown = text === '' ? undefined : JSON.parse(text);
        const out = await route(body);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out));
      } catch (err) {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: false, error: errorMessage(err) }));
      }
    })();
  });
  const bound = await listen(server, host, port);
  return tracked(server, bound);
}

async function readText(req: http.IncomingMessage): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new Error('control body too large');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8').trim();
}
