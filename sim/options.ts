import { z } from 'zod';
import { simGameIds, simGames, type SimGame } from './games.ts';

const port = z.number().int().min(0).max(65535);
const ms = z.number().int().min(0).max(3_600_000);

/** One simulated player. `joinedAt` is ms since the epoch (A2S reports the time online). */
export const SimPlayerSchema = z.object({
  name: z.string().max(128),
  score: z.number().int().default(0),
  joinedAt: z.number().optional(),
  /** A stable Steam-like id; derived from the name when absent. */
  id: z.string().optional(),
});
export type SimPlayerInput = z.input<typeof SimPlayerSchema> | string;
export interface SimPlayer { name: string; score: number; joinedAt: number; id: string }

/**
 * Every sim option with its default, in one place. Game-dependent defaults
 * (map, version, quirks) are left undefined here and filled from games.ts by
 * resolveSimOptions, so an explicit value always wins.
 */
export const SimOptionsSchema = z.object({
  game: z.enum(simGameIds),
  host: z.string().default('127.0.0.1'),
  /** 0 = pick a free port; the actual ports are reported by the sim. */
  ports: z.object({
    game: port.default(0),
    query: port.default(0),
    rcon: port.default(0),
    /** The fault-injection channel (HTTP); null = do not open it. */
    control: port.nullable().default(0),
  }).strict().default({ game: 0, query: 0, rcon: 0, control: 0 }),
  rconPassword: z.string().default('sim-password'),
  serverName: z.string().optional(),
  map: z.string().optional(),
  /** World / save name used for file names (Valheim world, ARK map, Palworld world GUID...). */
  world: z.string().regex(/^[A-Za-z0-9_.-]+$/).optional(),
  version: z.string().optional(),
  players: z.array(z.union([z.string(), SimPlayerSchema])).default([]),
  maxPlayers: z.number().int().min(0).max(10_000).optional(),
  /** A server password: reported as `visibility` in A2S_INFO. */
  passwordProtected: z.boolean().default(false),
  /** Where the world is written; null = keep no files (saves are still counted). */
  saveDir: z.string().nullable().default(null),
  /** Total size of the world files written by one save. */
  saveBytes: z.number().int().min(1024).max(1 << 30).default(1 << 20),
  /** > 0: a save answers at once and keeps writing files gradually for this long. */
  saveDurationMs: ms.default(0),
  /** > 0: save on its own every this many ms, like the games' autosave. */
  autosaveMs: ms.default(0),
  /** JSON-lines file every admin command is appended to; null = memory only. */
  commandLog: z.string().nullable().default(null),
  /** Entries kept in memory (`sim.commands`); the file keeps everything. */
  commandMemory: z.number().int().min(1).default(10_000),
  a2s: z.object({
    /** Steam's 2020 change: A2S_INFO answers with a challenge first. */
    infoChallenge: z.boolean().default(true),
    /** Every challenge is good for one request; each 0x41 carries a new one. */
    rotateChallenge: z.boolean().default(false),
    /** Largest datagram sent; a longer reply is split (games.md split format). */
    mtu: z.number().int().min(64).max(65_000).default(1400),
    emptyPlayerNames: z.boolean().optional(),
    timeoutPlayers: z.boolean().default(false),
    timeoutRules: z.boolean().optional(),
    /** Override the keywords string (EDF 0x20). */
    keywords: z.string().optional(),
  }).strict().default({ infoChallenge: true, rotateChallenge: false, mtu: 1400, timeoutPlayers: false }),
  rcon: z.object({
    dialect: z.enum(['srcds', 'minecraft', 'ark']).optional(),
    /** Output longer than this is sent as several RESPONSE_VALUE packets with the same id. */
    maxBody: z.number().int().min(16).max(65_536).default(4096),
    /** SRCDS proper follows the mirrored empty packet with one holding 00 01 00 00. */
    mirrorTrailer: z.boolean().default(false),
  }).strict().default({ maxBody: 4096, mirrorTrailer: false }),
  webrcon: z.object({
    /** Unsolicited chat lines (Identifier -1); 0 = none. */
    chatIntervalMs: ms.default(5000),
    /** Send a console line with Identifier 0 before each reply, as Rust's log does. */
    consoleNoise: z.boolean().default(true),
  }).strict().default({ chatIntervalMs: 5000, consoleNoise: true }),
  /** While hung, SIGINT/SIGTERM are ignored (a frozen game does not run its handler). */
  hangIgnoresSignals: z.boolean().default(true),
  /** How long stop waits for clients to receive the last reply before closing sockets. */
  closeGraceMs: ms.default(500),
}).strict();

export type SimOptions = z.input<typeof SimOptionsSchema>;

/** Options after defaults: every game-dependent value filled in. */
export interface ResolvedSimOptions extends Omit<z.output<typeof SimOptionsSchema>, 'players' | 'a2s' | 'rcon'> {
  serverName: string;
  map: string;
  world: string;
  version: string;
  maxPlayers: number;
  players: SimPlayer[];
  a2s: Omit<z.output<typeof SimOptionsSchema>['a2s'], 'keywords' | 'emptyPlayerNames' | 'timeoutRules'> & {
    emptyPlayerNames: boolean; timeoutRules: boolean; keywords: string | null;
  };
  rcon: z.output<typeof SimOptionsSchema>['rcon'] & { dialect: 'srcds' | 'minecraft' | 'ark' };
  profile: SimGame;
}

export function steamIdFor(name: string): string {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.codePointAt(0)!) >>> 0;
  return (76561198000000000n + BigInt(h % 1_000_000_000)).toString();
}

export function toPlayer(p: SimPlayerInput, now: number): SimPlayer {
  const parsed = SimPlayerSchema.parse(typeof p === 'string' ? { name: p } : p);
  return { name: parsed.name, score: parsed.score, joinedAt: parsed.joinedAt ?? now, id: parsed.id ?? steamIdFor(parsed.name) };
}

export function resolveSimOptions(input: SimOptions, now = Date.now()): ResolvedSimOptions {
  const o = SimOptionsSchema.parse(input);
  const g = simGames[o.game];
  const d = g.defaults;
  return {
    ...o,
    serverName: o.serverName ?? `ReconSync Sim (${g.displayName})`,
    map: o.map ?? d.map,
    world: o.world ?? d.world,
    version: o.version ?? d.version,
    maxPlayers: o.maxPlayers ?? d.maxPlayers,
    players: o.players.map((p) => toPlayer(p, now)),
    a2s: {
      ...o.a2s,
      emptyPlayerNames: o.a2s.emptyPlayerNames ?? g.a2s?.emptyPlayerNames ?? false,
      timeoutRules: o.a2s.timeoutRules ?? g.a2s?.timeoutRules ?? false,
      keywords: o.a2s.keywords ?? null,
    },
    rcon: { ...o.rcon, dialect: o.rcon.dialect ?? g.rconDialect ?? 'srcds' },
    profile: g,
  };
}
