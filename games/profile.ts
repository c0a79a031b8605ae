import { z } from 'zod';

const port = z.number().int().min(1).max(65535);
const os = <T extends z.ZodType>(t: T) => z.object({ linux: t.optional(), windows: t.optional() }).strict();

/**
 * One game's facts (games.md). Paths may use variables: ${installDir}, ${home},
 * ${appData}, ${localAppData}, ${userProfile} and any `vars` of the server config
 * (e.g. ${identity}, ${world}, ${level}).
 */
export const GameProfileSchema = z.object({
  id: z.string().regex(/^[a-z0-9]+$/),
  name: z.string().min(1),
  query: z.object({
    /** gamedig type, or the game's own status source. */
    kind: z.enum(['a2s', 'gamedig', 'minecraft', 'palworld-rest', 'rcon', 'satisfactory', 'none']),
    /** gamedig game id when kind is gamedig (checked against the installed gamedig at load). */
    gamedigType: z.string().optional(),
    defaultPort: port,
    /** Query port = gamePort + portOffset when the server config gives a gamePort and no query.port. */
    portOffset: z.number().int().min(-1000).max(1000).default(0),
    /** Rust: player count is carried in the keywords (cp<n>/mp<n>). */
    playersFromKeywords: z.boolean().default(false),
  }).strict(),
  admin: z.object({
    kind: z.enum(['source-rcon', 'webrcon', 'telnet', 'palworld-rest', 'satisfactory-api', 'none']),
    defaultPort: port.optional(),
    /** Source RCON dialect: Minecraft replies to auth with one packet and splits at 4096. */
    dialect: z.enum(['srcds', 'minecraft', 'ark']).optional(),
    saveCommand: z.string().optional(),
    /** Commands run before the copy / after it (Minecraft save-off / save-on). */
    preBackupCommands: z.array(z.string()).default([]),
    postBackupCommands: z.array(z.string()).default([]),
    /** `{message}` is replaced by the text. */
    broadcastCommand: z.string().optional(),
    stopCommand: z.string().optional(),
    playersCommand: z.string().optional(),
  }).strict(),
  saves: z.object({
    /** Folders (or files) that hold the world, per OS. */
    paths: os(z.array(z.string().min(1)).min(1)),
    include: z.array(z.string()).default(['**/*']),
    /** The game's own rolling backups and temp files. */
    exclude: z.array(z.string()).default([]),
    /** SQLite files copied together with -wal/-shm. */
    sqlite: z.array(z.string()).default([]),
  }).strict(),
  process: z.object({ names: os(z.array(z.string().min(1))) }).strict(),
  start: os(z.object({ command: z.string(), args: z.array(z.string()).default([]) }).strict()).optional(),
  /** How a graceful stop works: via the admin channel, a console interrupt (Ctrl+C / SIGINT), or not at all. */
  stop: z.object({
    method: z.enum(['admin', 'interrupt']),
    /** On Windows an interrupt needs a console helper; without one only a hard stop is possible. */
    windowsInterruptNeedsConsole: z.boolean().default(true),
  }).strict(),
  notes: z.array(z.string()).default([]),
}).strict();

export type GameProfile = z.output<typeof GameProfileSchema>;
export type GameProfileInput = z.input<typeof GameProfileSchema>;
export const gameIds = ['valheim', 'rust', 'ark', 'asa', '7dtd', 'palworld', 'enshrouded', 'satisfactory', 'pzomboid', 'minecraft'] as const;
