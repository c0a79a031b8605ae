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
    /**
     * Query port = gamePort + portOffset when the server config gives a gamePort and no query.port.
     * null: the query port does not follow the game port (ARK's -QueryPort); defaultPort applies.
     */
    portOffset: z.number().int().min(-1000).max(1000).nullable().default(0),
    /** Rust: player count is carried in the keywords (cp<n>/mp<n>). */
    playersFromKeywords: z.boolean().default(false),
    /** Where the game version is: the A2S version field, or a keyword (Valheim puts it in the keywords). */
    versionFrom: z.enum(['version', 'keywords']).default('version'),
  }).strict(),
  admin: z.object({
    kind: z.enum(['source-rcon', 'webrcon', 'telnet', 'palworld-rest', 'satisfactory-api', 'none']),
    defaultPort: port.optional(),
    /** Admin port = gamePort + portOffset when the server config gives a gamePort and no rcon.port (Satisfactory: same port). */
    portOffset: z.number().int().min(-1000).max(1000).nullable().default(null),
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
  /** Default values of path variables (e.g. identity, level); the server's `vars` win. */
  vars: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a variable name (letters, digits, underscore)'), z.string()).default({}),
  process: z.object({ names: os(z.array(z.string().min(1))) }).strict(),
  /** Typical start line, shown to operators; a server is only managed when its config has `start:`. */
  start: os(z.object({ command: z.string(), args: z.array(z.string()).default([]) }).strict()).optional(),
  /** How a graceful stop works: via the admin channel, a console interrupt (Ctrl+C / SIGINT), or not at all. */
  stop: z.object({
    method: z.enum(['admin', 'interrupt']),
    /** On Windows an interrupt needs a console helper; without one only a hard stop is possible. */
    windowsInterruptNeedsConsole: z.boolean().default(true),
  }).strict(),
  notes: z.array(z.string()).default([]),
}).strict().superRefine((p, ctx) => {
  // Cross-field rules: each names the key an author must fix.
  const need = (cond: boolean, path: (string | number)[], message: string) => {
    if (!cond) ctx.addIssue({ code: 'custom', path, message });
  };
  need(!['a2s', 'gamedig'].includes(p.query.kind) || !!p.query.gamedigType, ['query', 'gamedigType'], `required when query.kind is ${p.query.kind}`);
  need(p.query.kind !== 'rcon' || p.admin.kind !== 'none', ['query', 'kind'], 'query.kind rcon needs an admin channel (admin.kind)');
  need(p.admin.kind === 'none' || p.admin.defaultPort !== undefined, ['admin', 'defaultPort'], `required when admin.kind is ${p.admin.kind}`);
  need(p.admin.kind !== 'source-rcon' || p.admin.dialect !== undefined, ['admin', 'dialect'], 'required for source-rcon: srcds, minecraft or ark');
  need(p.stop.method !== 'admin' || (p.admin.kind !== 'none' && !!p.admin.stopCommand), ['stop', 'method'], 'method admin needs admin.kind and admin.stopCommand');
  need(!!(p.saves.paths.linux || p.saves.paths.windows), ['saves', 'paths'], 'give paths for linux and/or windows');
});

export type GameProfile = z.output<typeof GameProfileSchema>;
export type GameProfileInput = z.input<typeof GameProfileSchema>;
export const gameIds = ['valheim', 'rust', 'ark', 'asa', '7dtd', 'palworld', 'enshrouded', 'satisfactory', 'pzomboid', 'minecraft'] as const;
