import path from 'node:path';
import { z } from 'zod';
import { id } from '../protocol/status.ts';
import { loadYamlConfig, resolveFrom, type LoadOptions } from '../lib/config-file.ts';

const port = z.number().int().min(1).max(65535);
const duration = z.number().int().positive();

export const KeepSchema = z.object({
  last: z.number().int().min(1).max(10_000).default(10),
  hourly: z.number().int().min(0).max(10_000).default(0),
  daily: z.number().int().min(0).max(10_000).default(7),
  weekly: z.number().int().min(0).max(10_000).default(4),
  monthly: z.number().int().min(0).max(10_000).default(0),
}).strict();

export const BackupConfigSchema = z.object({
  /** Cron expression (croner); omitted = manual backups only. */
  schedule: z.string().min(1).optional(),
  timezone: z.string().optional(),
  keep: KeepSchema.default(KeepSchema.parse({})),
  /** "local" = dataDir/backups; anything else is an rclone remote (`name:path`) or a path. */
  destinations: z.array(z.string().min(1)).min(1).default(['local']),
  format: z.enum(['zstd', 'gzip']).default('zstd'),
  /** Remove the local archive once an off-site copy is verified. */
  keepLocal: z.boolean().default(true),
  /** Stop the server for the copy when the game has no save channel. */
  stopIfNoSaveChannel: z.boolean().default(false),
  /** Alert when the newest verified backup is older than this. */
  maxAgeHours: z.number().positive().optional(),
  /** Alert when a new archive is smaller than this fraction of the previous one. */
  shrinkAlertRatio: z.number().min(0).max(1).default(0.5),
  /** How long the save files must stay unchanged after a save command, and the upper bound of that wait. */
  settleMs: duration.default(2000),
  settleTimeoutMs: duration.default(60_000),
}).strict();

export const ServerConfigSchema = z.object({
  id,
  game: z.string().min(1),
  name: z.string().min(1).max(128).optional(),
  gamePort: port.optional(),
  query: z.object({ host: z.string().default('127.0.0.1'), port: port.optional() }).strict().optional(),
  rcon: z.object({
    host: z.string().default('127.0.0.1'),
    port: port.optional(),
    password: z.string().optional(),
    /** HTTPS API: accept the game's self-signed certificate (Satisfactory). */
    insecureTls: z.boolean().default(true),
  }).strict().optional(),
  installDir: z.string().optional(),
  /** Replaces the profile's save paths with this one folder. */
  saveDir: z.string().optional(),
  /** Variables for the profile's paths, e.g. identity, world, level. */
  vars: z.record(z.string(), z.string()).default({}),
  start: z.object({
    command: z.string().min(1),
    args: z.array(z.string()).default([]),
    cwd: z.string().optional(),
    env: z.record(z.string(), z.string()).default({}),
    /** Start the game when the agent starts and finds it not running (unless an operator stopped it). */
    autoStart: z.boolean().default(true),
  }).strict().optional(),
  /** Find an already running process: by pid file or by process name from the profile. */
  adopt: z.object({ pidFile: z.string().optional(), processName: z.string().optional() }).strict().optional(),
  restart: z.object({
    onCrash: z.boolean().default(true),
    onHang: z.boolean().default(true),
    maxPerHour: z.number().int().min(0).max(100).default(3),
    backoffMs: duration.default(5000),
  }).strict().default({ onCrash: true, onHang: true, maxPerHour: 3, backoffMs: 5000 }),
  health: z.object({
    intervalMs: duration.default(5000),
    /** After a start, failures are not counted for this long. */
    startGraceMs: duration.default(120_000),
    /** Consecutive failed queries before `unresponsive`. */
    failures: z.number().int().min(1).default(3),
    queryTimeoutMs: duration.default(3000),
  }).strict().default({ intervalMs: 5000, startGraceMs: 120_000, failures: 3, queryTimeoutMs: 3000 }),
  stop: z.object({ timeoutMs: duration.default(60_000) }).strict().default({ timeoutMs: 60_000 }),
  backup: BackupConfigSchema.default(BackupConfigSchema.parse({})),
  /** Overrides of any game-profile field for this server (deep-merged, then validated). */
  profile: z.record(z.string(), z.unknown()).optional(),
}).strict();

export const AgentConfigSchema = z.object({
  id,
  hub: z.object({
    url: z.string().regex(/^wss?:\/\//, 'a ws:// or wss:// URL'),
    token: z.string().min(16, 'the token printed by `reconsync token create`'),
    /** Extra CA certificate (PEM file) for a hub with a private certificate. */
    ca: z.string().optional(),
  }).strict(),
  dataDir: z.string().default('./agent-data'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  rclone: z.object({
    binary: z.string().default('rclone'),
    config: z.string().optional(),
    timeoutMs: duration.default(600_000),
  }).strict().default({ binary: 'rclone', timeoutMs: 600_000 }),
  /** Folder with extra or replacement game profiles (<id>.yaml). */
  gamesDir: z.string().optional(),
  servers: z.array(ServerConfigSchema).default([]),
}).strict().superRefine((cfg, ctx) => {
  const seen = new Set<string>();
  cfg.servers.forEach((s, i) => {
    if (seen.has(s.id)) ctx.addIssue({ code: 'custom', path: ['servers', i, 'id'], message: `duplicate server id "${s.id}"` });
    seen.add(s.id);
  });
});

export type AgentConfigInput = z.input<typeof AgentConfigSchema>;
export type ServerConfig = z.output<typeof ServerConfigSchema>;
export type BackupConfig = z.output<typeof BackupConfigSchema>;
export type AgentConfig = z.output<typeof AgentConfigSchema> & { configDir: string; configFile: string };

/** Loads agent.yaml; relative paths are resolved against its folder. */
export function loadAgentConfig(file: string, opts: LoadOptions = {}): AgentConfig {
  const cfg = loadYamlConfig(file, AgentConfigSchema, opts);
  return resolveAgentPaths(cfg);
}

/**
 * "local", an rclone remote (`name:path`, or an on-the-fly backend like `:local:/x`,
 * `:sftp,host=h:`) or an absolute path stays as written; anything else is a path
 * relative to the config file. A Windows drive (`C:\\x`) is a path, not a remote.
 */
export function isRemoteOrAbsolute(target: string, pathImpl: path.PlatformPath = path): boolean {
  if (target === 'local' || pathImpl.isAbsolute(target) || path.win32.isAbsolute(target)) return true;
  return /^:[A-Za-z0-9_-]+[,:]/.test(target) || /^[A-Za-z0-9_. -]+:/.test(target);
}

export function resolveAgentPaths(cfg: AgentConfig, pathImpl: path.PlatformPath = path): AgentConfig {
  const r = (p: string | undefined) => (p === undefined ? undefined : resolveFrom(cfg.configDir, p, pathImpl));
  return Object.freeze({
    ...cfg,
    dataDir: r(cfg.dataDir)!,
    gamesDir: r(cfg.gamesDir),
    hub: { ...cfg.hub, ca: r(cfg.hub.ca) },
    rclone: { ...cfg.rclone, config: r(cfg.rclone.config) },
    servers: cfg.servers.map((s) => ({
      ...s,
      installDir: r(s.installDir),
      saveDir: r(s.saveDir),
      start: s.start ? { ...s.start, cwd: r(s.start.cwd) } : undefined,
      adopt: s.adopt ? { ...s.adopt, pidFile: r(s.adopt.pidFile) } : undefined,
      // Destinations that are plain relative paths (no rclone "remote:") resolve like other paths.
      backup: { ...s.backup, destinations: s.backup.destinations.map((d) => (isRemoteOrAbsolute(d, pathImpl) ? d : r(d)!)) },
    })),
  }) as AgentConfig;
}
