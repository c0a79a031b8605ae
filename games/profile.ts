import { z } from 'zod';

const port = z.number().int().min(1).max(65535);
const os = <T extends z.ZodType>(t: T, what: string) => z.object({
  linux: t.optional().describe(`${what} on Linux`),
  windows: t.optional().describe(`${what} on Windows`),
}).strict();

/**
 * One game's facts (games.md). Paths may use variables: ${installDir}, ${home},
 * ${appData}, ${localAppData}, ${userProfile} and any `vars` of the server config
 * (e.g. ${identity}, ${world}, ${level}).
 */
export const GameProfileSchema = z.object({
  id: z.string().regex(/^[a-z0-9]+$/).describe('Profile id, lower-case letters and digits; servers name it in `game:`'),
  name: z.string().min(1).describe('Display name of the game'),
  query: z.object({
    /** gamedig type, or the game's own status source. */
    kind: z.enum(['a2s', 'gamedig', 'minecraft', 'palworld-rest', 'rcon', 'satisfactory', 'none']).describe('How the status (players, map, version) is read'),
    /** gamedig game id when kind is gamedig (checked against the installed gamedig by config check); informational for a2s. */
    gamedigType: z.string().optional().describe('gamedig game id, required when kind is gamedig'),
    defaultPort: port.describe('Query port when neither the server config nor portOffset gives one'),
    /**
     * Query port = gamePort + portOffset when the server config gives a gamePort and no query.port.
     * null: the query port does not follow the game port (ARK's -QueryPort); defaultPort applies.
     */
    portOffset: z.number().int().min(-1000).max(1000).nullable().default(0).describe('Query port = gamePort + portOffset; null when it does not follow the game port'),
    /** Rust: player count is carried in the keywords (cp<n>/mp<n>). */
    playersFromKeywords: z.boolean().default(false).describe('Read the player count from the keywords (Rust: cp<n>/mp<n>)'),
    /** Where the game version is: the A2S version field, or a keyword (Valheim puts it in the keywords). */
    versionFrom: z.enum(['version', 'keywords']).default('version').describe('Where the game version is: the version field or a keyword (Valheim)'),
    /**
     * Whether the status names the players or only counts them (games.md): the hub's
     * join/leave events and /players need names. Defaults to names so an operator's own
     * profile keeps working; a game that sends names only sometimes (ARK) is `names`.
     */
    players: z.enum(['names', 'counts']).default('names').describe('names: the status lists player names (join/leave events, /players); counts: it gives a number only (Valheim, Satisfactory)'),
  }).strict().describe('The status query'),
  admin: z.object({
    kind: z.enum(['source-rcon', 'webrcon', 'telnet', 'palworld-rest', 'satisfactory-api', 'none']).describe('The admin channel the game offers'),
    defaultPort: port.optional().describe('Admin port when neither the server config nor portOffset gives one'),
    /** Admin port = gamePort + portOffset when the server config gives a gamePort and no rcon.port (Satisfactory: same port). */
    portOffset: z.number().int().min(-1000).max(1000).nullable().default(null).describe('Admin port = gamePort + portOffset; null when it does not follow the game port'),
    /** Source RCON dialect: Minecraft replies to auth with one packet and splits at 4096. */
    dialect: z.enum(['srcds', 'minecraft', 'ark']).optional().describe('Source RCON dialect (required for source-rcon)'),
    saveCommand: z.string().optional().describe('Command that saves the world before a backup'),
    /** Commands run before the copy / after it (Minecraft save-off / save-on). */
    preBackupCommands: z.array(z.string()).default([]).describe('Commands run before the copy (Minecraft: save-off)'),
    postBackupCommands: z.array(z.string()).default([]).describe('Commands run after the copy (Minecraft: save-on)'),
    /** `{message}` is replaced by the text. */
    broadcastCommand: z.string().optional().describe('Command that messages every player; {message} is replaced by the text'),
    stopCommand: z.string().optional().describe('Command that saves and shuts the server down'),
    playersCommand: z.string().optional().describe('Command that lists the players online'),
  }).strict().describe('The admin channel (RCON and the like)'),
  saves: z.object({
    /** Folders (or files) that hold the world, per OS. */
    paths: os(z.array(z.string().min(1)).min(1), 'Folders or files that hold the world').describe('Folders or files that hold the world, per OS; variables like ${installDir} allowed'),
    include: z.array(z.string()).default(['**/*']).describe('Globs of files to archive, relative to each save path'),
    /** The game's own rolling backups and temp files. */
    exclude: z.array(z.string()).default([]).describe('Globs left out: the game\'s own rolling backups and temp files'),
    /** SQLite files copied together with -wal/-shm. */
    sqlite: z.array(z.string()).default([]).describe('Globs of SQLite files, copied together with their -wal/-shm'),
  }).strict().describe('What a backup archives'),
  /** Default values of path variables (e.g. identity, level); the server's `vars` win. */
  vars: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a variable name (letters, digits, underscore)'), z.string()).default({}).describe('Default values of path variables (e.g. identity, level); a server\'s vars win'),
  process: z.object({
    names: os(z.array(z.string().min(1)), 'Executable names of the running server').describe('Executable names of the running server, per OS (to adopt a running game)'),
  }).strict().describe('How to recognise the game\'s process'),
  /** Typical start line, shown to operators; a server is only managed when its config has `start:`. */
  start: os(z.object({
    command: z.string().describe('Program to run'),
    args: z.array(z.string()).default([]).describe('Its arguments'),
  }).strict(), 'Typical start line').optional().describe('Typical start line per OS, shown to operators; a server is managed only when its config has start:'),
  /** How a graceful stop works: via the admin channel, a console interrupt (Ctrl+C / SIGINT), or not at all. */
  stop: z.object({
    // Every game gets a console of its own on Windows (the service wrapper's --launch), so the
    // interrupt needs nothing per game there: the former windowsInterruptNeedsConsole is gone.
    method: z.enum(['admin', 'interrupt']).describe('Graceful stop through the admin channel\'s stopCommand, or a console interrupt (Ctrl+C / SIGINT)'),
  }).strict().describe('How a graceful stop works'),
  /** The dedicated server's Steam app (games.md "SteamCMD"); absent for games not on Steam (Minecraft). */
  steam: z.object({
    appId: z.number().int().positive().describe('Steam app id of the dedicated server (anonymous login), e.g. 896660 for Valheim'),
  }).strict().optional().describe('Where SteamCMD installs and updates the dedicated server from; absent for games not on Steam'),
  notes: z.array(z.string()).default([]).describe('Hints for operators about running this game'),
}).strict().superRefine((p, ctx) => {
  // Cross-field rules: each names the key an author must fix.
  const need = (cond: boolean, path: (string | number)[], message: string) => {
    if (!cond) ctx.addIssue({ code: 'custom', path, message });
  };
  need(p.query.kind !== 'gamedig' || !!p.query.gamedigType, ['query', 'gamedigType'], 'required when query.kind is gamedig');
  need(p.query.kind !== 'rcon' || p.admin.kind !== 'none', ['query', 'kind'], 'query.kind rcon needs an admin channel (admin.kind)');
  need(p.admin.kind === 'none' || p.admin.defaultPort !== undefined, ['admin', 'defaultPort'], `required when admin.kind is ${p.admin.kind}`);
  need(p.admin.kind !== 'source-rcon' || p.admin.dialect !== undefined, ['admin', 'dialect'], 'required for source-rcon: srcds, minecraft or ark');
  need(p.stop.method !== 'admin' || (p.admin.kind !== 'none' && !!p.admin.stopCommand), ['stop', 'method'], 'method admin needs admin.kind and admin.stopCommand');
  need(!!(p.saves.paths.linux || p.saves.paths.windows), ['saves', 'paths'], 'give paths for linux and/or windows');
});

export type GameProfile = z.output<typeof GameProfileSchema>;
export type GameProfileInput = z.input<typeof GameProfileSchema>;
export const gameIds = ['valheim', 'rust', 'ark', 'asa', '7dtd', 'palworld', 'enshrouded', 'satisfactory', 'pzomboid', 'minecraft'] as const;
