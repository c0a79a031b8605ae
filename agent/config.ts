import path from 'node:path';
import { z } from 'zod';
import { id } from '../protocol/status.ts';
import { resolveFrom, type LoadOptions } from '../lib/config-file.ts';
import { loadCheckedYaml } from '../lib/config-validate.ts';
import { isSecretName } from '../lib/redact.ts';

const port = z.number().int().min(1).max(65535);
const duration = z.number().int().positive();

export const KeepSchema = z.object({
  last: z.number().int().min(1).max(10_000).default(10).describe('Keep the newest N backups'),
  hourly: z.number().int().min(0).max(10_000).default(0).describe('Also keep the newest backup of each of the last N hours'),
  daily: z.number().int().min(0).max(10_000).default(7).describe('Also keep the newest backup of each of the last N days'),
  weekly: z.number().int().min(0).max(10_000).default(4).describe('Also keep the newest backup of each of the last N weeks'),
  monthly: z.number().int().min(0).max(10_000).default(0).describe('Also keep the newest backup of each of the last N months'),
}).strict();

/** A restic repository (design.md §10): anything restic accepts as `-r` (a folder, `rclone:remote:path`, `s3:…`, `sftp:…`). */
export const ResticDestinationSchema = z.object({
  restic: z.string().min(1).describe('The restic repository: a folder, rclone:<remote>:<path>, s3:…, sftp:…'),
  password: z.string().min(1).describe('The repository password; keep it out of the file: ${RESTIC_PASSWORD}. It reaches restic through its environment only'),
}).strict();
export type ResticDestinationConfig = z.output<typeof ResticDestinationSchema>;

/** The target string a restic destination is known by in records and the catalog (never its password). */
export const RESTIC_PREFIX = 'restic:';

/** The target string of a configured destination: the string itself, or `restic:<repository>`. */
export function targetOf(d: string | ResticDestinationConfig): string {
  return typeof d === 'string' ? d : `${RESTIC_PREFIX}${d.restic}`;
}

export const BackupConfigSchema = z.object({
  /** Cron expression (croner); omitted = manual backups only. */
  schedule: z.string().min(1).optional().describe('When to back up: a cron expression such as "0 */6 * * *" (croner syntax); omit for manual backups only'),
  timezone: z.string().optional().describe('IANA time zone of the schedule, e.g. Europe/Berlin (default: the machine\'s)'),
  keep: KeepSchema.default(KeepSchema.parse({})).describe('Retention per destination; the newest verified backup and locked ones are never removed'),
  /** "local" = dataDir/backups; a string is an rclone remote (`name:path`) or a path; `{ restic, password }` is a restic repository. */
  destinations: z.array(z.union([z.string().min(1), ResticDestinationSchema])).min(1).default(['local']).describe('Where backups go: "local" (dataDir/backups), an rclone remote ("b2:bucket/ark"), a folder path, or { restic: <repository>, password: ${RESTIC_PASSWORD} }'),
  format: z.enum(['zstd', 'gzip']).default('zstd').describe('Archive compression: zstd (.tar.zst) or gzip (.tar.gz)'),
  /** Remove the local archive once an off-site copy is verified. */
  keepLocal: z.boolean().default(true).describe('false: remove the local archive once an off-site copy is verified'),
  /** Stop the server for the copy when the game has no save channel. */
  stopIfNoSaveChannel: z.boolean().default(false).describe('Stop the server during the copy when the game has no admin channel to save through'),
  /** Alert when the newest verified backup is older than this. */
  maxAgeHours: z.number().positive().optional().describe('Alert when the newest verified backup is older than this many hours'),
  /** Alert when a new archive is smaller than this fraction of the previous one. */
  shrinkAlertRatio: z.number().min(0).max(1).default(0.5).describe('Alert when a new archive is smaller than this fraction of the previous one (0 = never)'),
  /** How long the save files must stay unchanged after a save command, and the upper bound of that wait. */
  settleMs: duration.default(2000).describe('How long the save files must stay unchanged after the save command before the copy, in ms'),
  settleTimeoutMs: duration.default(60_000).describe('Longest wait for the save files to settle, in ms'),
}).strict();

/** Updates through SteamCMD (design.md §10); needs the game profile's steam.appId. */
export const UpdateConfigSchema = z.object({
  policy: z.enum(['notify', 'auto']).default('notify').describe('notify: report a new build (alert, board, API); auto: also apply it'),
  branch: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'a Steam branch name such as public or experimental').default('public').describe('Steam branch (beta) to follow'),
  betaPassword: z.string().optional().describe('Password of a protected beta branch: ${BETA_PW}'),
  check: z.string().min(1).default('*/30 * * * *').describe('When to look for a new build: a cron expression (croner syntax); each server is offset by a random jitter'),
  warnAt: z.array(z.number().positive().max(1440)).max(10).default([15, 5, 1]).describe('Minutes before the update at which players are warned; [] = no warnings'),
  waitForEmptyMinutes: z.number().min(0).max(1440).default(60).describe('After the warnings, wait up to this many minutes for the server to empty'),
  validate: z.boolean().default(false).describe('Let SteamCMD verify every file (slower)'),
  keepPreviousBuild: z.boolean().default(true).describe('Copy the install folder (without the saves) before updating, so a broken build can be put back'),
}).strict();

export const ServerConfigSchema = z.object({
  id: id.describe('Unique server id on this agent; the id people type in Discord and the API'),
  game: z.string().min(1).describe('Game profile id (`reconsync games` lists them), e.g. valheim, ark, minecraft'),
  name: z.string().min(1).max(128).optional().describe('Display name (default: the id)'),
  connect: z.string().min(1).max(200).optional().describe('How players join, shown on the status card and in the API: an address such as play.example.org:2456, or a steam://connect/… link'),
  gamePort: port.optional().describe('The game\'s port; the query and admin ports follow from it per the profile'),
  query: z.object({
    host: z.string().default('127.0.0.1').describe('Host the status query goes to'),
    port: port.optional().describe('Query port, when it does not follow from gamePort'),
  }).strict().optional().describe('Where the status query (A2S, Minecraft ping, ...) goes'),
  rcon: z.object({
    host: z.string().default('127.0.0.1').describe('Host of the admin channel'),
    port: port.optional().describe('Admin (RCON/WebRCON/telnet/REST) port, when it does not follow from the profile'),
    password: z.string().optional().describe('Admin password; keep it out of the file: ${RCON_PASSWORD}'),
    /** HTTPS API: accept the game's self-signed certificate (Satisfactory). */
    insecureTls: z.boolean().default(true).describe('HTTPS admin APIs: accept the game\'s self-signed certificate (Satisfactory)'),
  }).strict().optional().describe('The game\'s admin channel (RCON, WebRCON, telnet or REST, per the profile): saves, broadcasts, graceful stop'),
  installDir: z.string().optional().describe('Game install folder (${installDir} in profile paths)'),
  /** Replaces the profile's save paths with this one folder. */
  saveDir: z.string().optional().describe('The world folder; replaces the profile\'s save paths'),
  /** Variables for the profile's paths, e.g. identity, world, level. */
  vars: z.record(z.string(), z.string()).default({}).describe('Values of the profile\'s path variables, e.g. { identity: my_server }'),
  start: z.object({
    command: z.string().min(1).describe('Program to run: absolute, relative to cwd (or installDir), or a bare name looked up on PATH'),
    args: z.array(z.string()).default([]).describe('Its arguments, one per item; secrets via ${VAR}'),
    cwd: z.string().optional().describe('Working folder (default: installDir)'),
    env: z.record(z.string(), z.string()).default({}).describe('Extra environment variables for the game'),
    /** Start the game when the agent starts and finds it not running (unless an operator stopped it). */
    autoStart: z.boolean().default(true).describe('Start the game when the agent starts and finds it not running (unless an operator stopped it)'),
  }).strict().optional().describe('How to start the game; with it the server is managed (started, restarted), without it only watched'),
  /** Find an already running process: by pid file or by process name from the profile. */
  adopt: z.object({
    pidFile: z.string().optional().describe('File holding the game\'s pid'),
    processName: z.string().optional().describe('Process name to look for instead of the profile\'s'),
  }).strict().optional().describe('How to find a game that is already running'),
  restart: z.object({
    onCrash: z.boolean().default(true).describe('Restart a managed server that exits unexpectedly'),
    onHang: z.boolean().default(true).describe('Restart a managed server whose query keeps failing (see health)'),
    maxPerHour: z.number().int().min(0).max(100).default(3).describe('At most this many automatic restarts per hour, then give up and alert'),
    backoffMs: duration.default(5000).describe('Wait before the first restart, in ms; doubles on each further one'),
    schedule: z.string().min(1).optional().describe('Scheduled restart: a cron expression (croner syntax), e.g. "0 5 * * *" for 05:00 daily'),
    timezone: z.string().min(1).optional().describe('IANA timezone of restart.schedule, e.g. Europe/Berlin (default: the machine\'s)'),
    warnAt: z.array(z.number().positive().max(1440)).max(10).default([15, 5, 1]).describe('Minutes before a scheduled restart at which players are warned; [] = no warnings'),
    skipIfPlayersAbove: z.number().int().min(0).optional().describe('Skip a scheduled restart while more players than this are on (0 = only restart an empty server)'),
    waitForEmptyMinutes: z.number().min(0).max(1440).default(0).describe('With skipIfPlayersAbove: wait up to this many minutes for players to leave before skipping'),
  }).strict().default({ onCrash: true, onHang: true, maxPerHour: 3, backoffMs: 5000, warnAt: [15, 5, 1], waitForEmptyMinutes: 0 }).describe('Automatic restarts of a managed server, and scheduled ones'),
  health: z.object({
    intervalMs: duration.default(5000).describe('Time between two status queries, in ms'),
    /** After a start, failures are not counted for this long. */
    startGraceMs: duration.default(120_000).describe('After a start, failed queries are not counted for this long, in ms (worlds take time to load)'),
    /** Consecutive failed queries before `unresponsive`. */
    failures: z.number().int().min(1).default(3).describe('Failed queries in a row before the server counts as unresponsive'),
    queryTimeoutMs: duration.default(3000).describe('Time limit of one status query, in ms'),
  }).strict().default({ intervalMs: 5000, startGraceMs: 120_000, failures: 3, queryTimeoutMs: 3000 }).describe('How the agent decides the server is answering'),
  stop: z.object({
    timeoutMs: duration.default(60_000).describe('Time a graceful stop (save, stop command, soft signal) may take before a hard kill, in ms'),
  }).strict().default({ timeoutMs: 60_000 }).describe('Graceful stop'),
  backup: BackupConfigSchema.default(BackupConfigSchema.parse({})).describe('Backups of this server\'s world'),
  update: UpdateConfigSchema.optional().describe('Game updates through SteamCMD; needs installDir and a game with steam.appId'),
  /** Overrides of any game-profile field for this server (deep-merged, then validated). */
  profile: z.record(z.string(), z.unknown()).optional().describe('Overrides of any game-profile field for this server, deep-merged, e.g. { saves: { exclude: ["**/*.old"] } }'),
}).strict();

export const AgentConfigSchema = z.object({
  id: id.describe('This agent\'s id; must match the one its token was created for (`reconsync token create <id>`)'),
  hub: z.object({
    url: z.string().regex(/^wss?:\/\//, 'a ws:// or wss:// URL').describe('The hub\'s agent endpoint, e.g. wss://hub.example.org/agent'),
    token: z.string().min(16, 'the token printed by `reconsync token create`').describe('The token printed by `reconsync token create`: ${RECONSYNC_AGENT_TOKEN}'),
    /** Extra CA certificate (PEM file) for a hub with a private certificate. */
    ca: z.string().optional().describe('PEM file of a private CA that signed the hub\'s certificate'),
  }).strict().describe('The hub this agent dials'),
  dataDir: z.string().default('./agent-data').describe('Folder for the outbox, staging and local backups; relative to this file'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('Least severe log level written'),
  restic: z.object({
    path: z.string().default('restic').describe('restic program (needed only for restic destinations; default: restic on PATH)'),
    timeoutMs: duration.default(3_600_000).describe('Time limit of one restic command, in ms'),
    check: z.string().min(1).default('0 4 * * 0').describe('When to run `restic check --read-data-subset` on each repository: a cron expression (default: weekly)'),
    checkSubset: z.string().regex(/^\d{1,2}(\.\d+)?%$|^100%$/, 'a percentage such as "5%"').default('5%').describe('How much of the pack data each scheduled check reads'),
  }).strict().default({ path: 'restic', timeoutMs: 3_600_000, check: '0 4 * * 0', checkSubset: '5%' }).describe('restic, for deduplicated encrypted backups'),
  rclone: z.object({
    binary: z.string().default('rclone').describe('rclone program (needed only for remote destinations)'),
    config: z.string().optional().describe('rclone.conf with the remotes (default: rclone\'s own)'),
    timeoutMs: duration.default(600_000).describe('Time limit of one rclone command, in ms'),
  }).strict().default({ binary: 'rclone', timeoutMs: 600_000 }).describe('rclone, for backups to remotes'),
  steamcmd: z.object({
    path: z.string().optional().describe('SteamCMD program (default: steamcmd or steamcmd.sh on PATH, steamcmd.exe on Windows)'),
    /** Folder of SteamCMD's app-info cache, cleared when an answer may be stale (default: next to the program, and ~/Steam/appcache). */
    appCacheDir: z.string().optional().describe('SteamCMD\'s appcache folder (default: next to the program, and ~/Steam/appcache)'),
    timeoutMs: duration.default(3_600_000).describe('Time limit of one app_update run, in ms (first runs also update SteamCMD itself)'),
    infoTimeoutMs: duration.default(180_000).describe('Time limit of one app-info query, in ms'),
    retries: z.number().int().min(0).max(10).default(3).describe('Further attempts of app_update after a transient failure (0x402, 0x602, time-outs)'),
    retryDelayMs: duration.default(30_000).describe('Wait before the first retry of app_update, in ms; doubled for each further one'),
  }).strict().default({ timeoutMs: 3_600_000, infoTimeoutMs: 180_000, retries: 3, retryDelayMs: 30_000 }).describe('SteamCMD, for game installs and updates'),
  /** Folder with extra or replacement game profiles (<id>.yaml). */
  gamesDir: z.string().optional().describe('Folder with extra or replacement game profiles (<id>.yaml)'),
  servers: z.array(ServerConfigSchema).default([]).describe('The game servers on this machine'),
}).strict().superRefine((cfg, ctx) => {
  const seen = new Set<string>();
  cfg.servers.forEach((s, i) => {
    if (seen.has(s.id)) ctx.addIssue({ code: 'custom', path: ['servers', i, 'id'], message: `duplicate server id "${s.id}"` });
    if (s.update && !s.installDir) ctx.addIssue({ code: 'custom', path: ['servers', i, 'update'], message: 'updates need installDir (where SteamCMD installs the game)' });
    seen.add(s.id);
  });
});

export type AgentConfigInput = z.input<typeof AgentConfigSchema>;
export type ServerConfig = z.output<typeof ServerConfigSchema>;
export type BackupConfig = z.output<typeof BackupConfigSchema>;
export type UpdateConfig = z.output<typeof UpdateConfigSchema>;
export type AgentConfig = z.output<typeof AgentConfigSchema> & { configDir: string; configFile: string };

/** Loads agent.yaml; relative paths are resolved against its folder. */
export function loadAgentConfig(file: string, opts: LoadOptions = {}): AgentConfig {
  return resolveAgentPaths(loadCheckedYaml(file, AgentConfigSchema, opts));
}

/** The secret values of an agent config, scrubbed from every log line (lib/logger.ts) and command line. */
export function agentSecrets(cfg: AgentConfig): string[] {
  return [
    cfg.hub.token,
    ...cfg.servers.flatMap((s) => [s.rcon?.password ?? '', ...s.backup.destinations.map((d) => (typeof d === 'string' ? '' : d.password)), s.update?.betaPassword ?? '', ...Object.entries(s.start?.env ?? {}).filter(([k]) => isSecretName(k)).map(([, v]) => v)]),
  ].filter((v) => v !== '');
}

/** Where a backup goes: the agent's own folder, an rclone remote, or a folder on this machine. */
export type DestinationKind = 'local' | 'remote' | 'path';

/**
 * "local"; an rclone remote (`name:path`, `name,opt=v:path`, or an on-the-fly
 * backend like `:local:/x`, `:sftp,host=h:`); anything else is a path. A
 * Windows drive (`C:\\x`) is a path, not a remote; a path needs no rclone.
 */
export function destinationKind(target: string, pathImpl: path.PlatformPath = path): DestinationKind {
  if (target === 'local') return 'local';
  if (pathImpl.isAbsolute(target) || path.win32.isAbsolute(target)) return 'path';
  return /^:[A-Za-z0-9_-]+[,:]/.test(target) || /^[A-Za-z0-9_. -]+(,[^:]*)?:/.test(target) ? 'remote' : 'path';
}

/** The rclone remote name a target uses (`b2` for `b2:bucket/x`), or undefined for on-the-fly backends and paths. */
export function remoteName(target: string): string | undefined {
  if (destinationKind(target) !== 'remote' || target.startsWith(':')) return undefined;
  return /^([^,:]+)/.exec(target)?.[1];
}

/** Remotes and absolute paths stay as written; anything else is a path relative to the config file. */
export function isRemoteOrAbsolute(target: string, pathImpl: path.PlatformPath = path): boolean {
  const kind = destinationKind(target, pathImpl);
  return kind !== 'path' || pathImpl.isAbsolute(target) || path.win32.isAbsolute(target);
}

/** A server's paths resolved against the config file's folder. */
export function resolveServerPaths(s: ServerConfig, configDir: string, pathImpl: path.PlatformPath = path): ServerConfig {
  const r = (p: string | undefined) => (p === undefined ? undefined : resolveFrom(configDir, p, pathImpl));
  return {
    ...s,
    installDir: r(s.installDir),
    saveDir: r(s.saveDir),
    start: s.start ? { ...s.start, cwd: r(s.start.cwd) } : undefined,
    adopt: s.adopt ? { ...s.adopt, pidFile: r(s.adopt.pidFile) } : undefined,
    // Destinations that are plain relative paths (no rclone "remote:") resolve like other paths.
    backup: { ...s.backup, destinations: s.backup.destinations.map((d) => (typeof d !== 'string' ? resolveRestic(d, configDir, pathImpl) : isRemoteOrAbsolute(d, pathImpl) ? d : r(d)!)) },
  };
}

/** A restic repository that is a relative folder (no `backend:` prefix) resolves like other paths. */
function resolveRestic(d: ResticDestinationConfig, configDir: string, pathImpl: path.PlatformPath): ResticDestinationConfig {
  const isBackend = /^[a-z0-9]+:/i.test(d.restic) && !path.win32.isAbsolute(d.restic);
  return isBackend || pathImpl.isAbsolute(d.restic) ? d : { ...d, restic: resolveFrom(configDir, d.restic, pathImpl) };
}

export function resolveAgentPaths(cfg: AgentConfig, pathImpl: path.PlatformPath = path): AgentConfig {
  const r = (p: string | undefined) => (p === undefined ? undefined : resolveFrom(cfg.configDir, p, pathImpl));
  return Object.freeze({
    ...cfg,
    dataDir: r(cfg.dataDir)!,
    gamesDir: r(cfg.gamesDir),
    hub: { ...cfg.hub, ca: r(cfg.hub.ca) },
    rclone: { ...cfg.rclone, config: r(cfg.rclone.config) },
    restic: { ...cfg.restic, path: /[\\/]/.test(cfg.restic.path) ? r(cfg.restic.path)! : cfg.restic.path },
    steamcmd: { ...cfg.steamcmd, path: cfg.steamcmd.path === undefined || !/[\\/]/.test(cfg.steamcmd.path) ? cfg.steamcmd.path : r(cfg.steamcmd.path), appCacheDir: r(cfg.steamcmd.appCacheDir) },
    servers: cfg.servers.map((s) => resolveServerPaths(s, cfg.configDir, pathImpl)),
  }) as AgentConfig;
}
