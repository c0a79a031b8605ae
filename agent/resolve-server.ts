import nodePath from 'node:path';
import { deepFreeze } from '../lib/config-file.ts';
import type { GameProfile } from '../games/profile.ts';
import type { ServerConfig } from './config.ts';
import type { ResolvedServer } from './types.ts';

/** The machine a server runs on. Tests pass path.win32 and a Windows env to check Windows paths on Linux. */
export interface ResolvePlatform {
  os: 'linux' | 'windows';
  home: string;
  env: Record<string, string | undefined>;
  /** Defaults to path.win32 for windows and path.posix for linux. */
  path?: nodePath.PlatformPath;
}

/** A server config that cannot be joined with its profile; names the server and, when it is one, the variable. */
export class ResolveError extends Error {
  readonly serverId: string;
  readonly variable: string | undefined;
  constructor(serverId: string, message: string, variable?: string) {
    super(`server "${serverId}": ${message}`);
    this.name = 'ResolveError';
    this.serverId = serverId;
    this.variable = variable;
  }
}

const VAR_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const BUILTIN_VARS = ['installDir', 'home', 'appData', 'localAppData', 'userProfile', 'gamePort'] as const;

/** Replaces every ${name}; `unknown` decides what a name without a value means (it must throw). */
export function expandVars(template: string, vars: Readonly<Record<string, string | undefined>>, unknown: (name: string) => never): string {
  return template.replace(VAR_REF, (_m, name: string) => vars[name] ?? unknown(name));
}

/** Windows env names are case-insensitive (APPDATA, AppData). */
function envLookup(env: Record<string, string | undefined>, name: string, os: ResolvePlatform['os']): string | undefined {
  if (os !== 'windows') return env[name] || undefined;
  const key = Object.keys(env).find((k) => k.toUpperCase() === name.toUpperCase());
  return key === undefined ? undefined : env[key] || undefined;
}

function builtinVars(cfg: ServerConfig, platform: ResolvePlatform, p: nodePath.PlatformPath): Record<string, string | undefined> {
  const win = platform.os === 'windows';
  const env = (name: string) => envLookup(platform.env, name, platform.os);
  return {
    installDir: cfg.installDir,
    home: platform.home,
    appData: win ? env('APPDATA') ?? p.join(platform.home, 'AppData', 'Roaming') : undefined,
    localAppData: win ? env('LOCALAPPDATA') ?? p.join(platform.home, 'AppData', 'Local') : undefined,
    userProfile: win ? env('USERPROFILE') ?? platform.home : platform.home,
    gamePort: cfg.gamePort === undefined ? undefined : String(cfg.gamePort),
  };
}

function explainMissing(cfg: ServerConfig, name: string, where: string, os: ResolvePlatform['os']): ResolveError {
  if (name === 'installDir') return new ResolveError(cfg.id, `${where} uses \${installDir}; set installDir for this server (or saveDir to name the save folder directly)`, name);
  if (name === 'gamePort') return new ResolveError(cfg.id, `${where} uses \${gamePort}; set gamePort for this server`, name);
  if (name === 'appData' || name === 'localAppData') return new ResolveError(cfg.id, `${where} uses \${${name}}, which only exists on Windows (this is ${os}); set saveDir`, name);
  return new ResolveError(cfg.id, `${where} uses unknown variable \${${name}}; set vars.${name} for this server in agent.yaml`, name);
}

function checkPort(cfg: ServerConfig, what: string, port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ResolveError(cfg.id, `${what} works out to ${port}, outside 1-65535; set it explicitly`);
  return port;
}

/**
 * Joins a server config with its (already merged) game profile for one platform:
 * variables expanded, every path absolute, every port known.
 */
export function resolveServer(cfg: ServerConfig, profile: GameProfile, platform: ResolvePlatform): ResolvedServer {
  const p = platform.path ?? (platform.os === 'windows' ? nodePath.win32 : nodePath.posix);
  const builtins = builtinVars(cfg, platform, p);
  // Built-ins win: a server cannot redefine ${home}; the server's vars beat the profile's defaults.
  const vars: Record<string, string | undefined> = { ...profile.vars, ...cfg.vars };
  for (const name of BUILTIN_VARS) vars[name] = builtins[name];

  const absolute = (raw: string, where: string): string => {
    const expanded = expandVars(raw, vars, (name) => {
      throw explainMissing(cfg, name, where, platform.os);
    });
    if (!p.isAbsolute(expanded)) throw new ResolveError(cfg.id, `${where} is "${expanded}", not an absolute path; set installDir or use an absolute path`);
    let normalized = p.normalize(expanded);
    // "C:\\worlds\\" and "/srv/x/" name the same folder as without the separator; roots ("/", "C:\\") stay.
    const rootLength = p.parse(normalized).root.length;
    while (normalized.length > rootLength && normalized.endsWith(p.sep)) normalized = normalized.slice(0, -1);
    return normalized;
  };

  let savePaths: string[];
  if (cfg.saveDir !== undefined) {
    savePaths = [absolute(cfg.saveDir, 'saveDir')];
  } else {
    const list = profile.saves.paths[platform.os];
    if (!list) throw new ResolveError(cfg.id, `game profile "${profile.id}" has no save paths for ${platform.os}; set saveDir for this server`);
    savePaths = list.map((raw, i) => absolute(raw, `profile ${profile.id} saves.paths.${platform.os}.${i}`));
  }

  // Admin channel: explicit port, else follows the game port when the profile says so, else the default.
  let adminPort: number | null = null;
  if (profile.admin.kind !== 'none') {
    const offset = profile.admin.portOffset;
    adminPort = cfg.rcon?.port
      ?? (offset !== null && cfg.gamePort !== undefined ? checkPort(cfg, 'admin port (gamePort + portOffset)', cfg.gamePort + offset) : profile.admin.defaultPort ?? null);
  }

  // Query port: explicit, else game port + offset, else the default. Games whose status comes from
  // the admin channel (REST, RCON) query wherever that channel is.
  const statusFromAdmin = profile.query.kind === 'palworld-rest' || profile.query.kind === 'rcon';
  let queryPort: number;
  if (cfg.query?.port !== undefined) queryPort = cfg.query.port;
  else if (statusFromAdmin && adminPort !== null) queryPort = adminPort;
  else if (profile.query.portOffset !== null && cfg.gamePort !== undefined) queryPort = checkPort(cfg, 'query port (gamePort + portOffset)', cfg.gamePort + profile.query.portOffset);
  else queryPort = profile.query.defaultPort;

  let start: ResolvedServer['start'] = null;
  if (cfg.start) {
    const cwdRaw = cfg.start.cwd ?? cfg.installDir;
    const cwd = cwdRaw === undefined ? undefined : absolute(cwdRaw, cfg.start.cwd !== undefined ? 'start.cwd' : 'installDir');
    let command = cfg.start.command;
    // "./x" or "bin/x" is relative to cwd (or installDir); a bare name like "java" is looked up on PATH.
    const hasSeparator = command.includes('/') || (platform.os === 'windows' && command.includes('\\'));
    if (p.isAbsolute(command)) command = p.normalize(command);
    else if (hasSeparator) {
      if (cwd === undefined) throw new ResolveError(cfg.id, `start.command "${command}" is relative; set start.cwd or installDir`);
      command = p.resolve(cwd, command);
    }
    start = { command, args: [...cfg.start.args], cwd, env: { ...cfg.start.env } };
  }

  const resolved: ResolvedServer = {
    id: cfg.id,
    name: cfg.name ?? cfg.id,
    config: cfg,
    profile,
    platform: platform.os,
    query: {
      kind: profile.query.kind,
      ...(profile.query.gamedigType !== undefined ? { gamedigType: profile.query.gamedigType } : {}),
      host: cfg.query?.host ?? '127.0.0.1',
      port: queryPort,
      playersFromKeywords: profile.query.playersFromKeywords,
    },
    admin: {
      kind: profile.admin.kind,
      host: cfg.rcon?.host ?? cfg.query?.host ?? '127.0.0.1',
      port: adminPort,
      password: cfg.rcon?.password ?? null,
      ...(profile.admin.dialect !== undefined ? { dialect: profile.admin.dialect } : {}),
      insecureTls: cfg.rcon?.insecureTls ?? true,
    },
    savePaths,
    include: [...profile.saves.include],
    exclude: [...profile.saves.exclude],
    sqlite: [...profile.saves.sqlite],
    processNames: cfg.adopt?.processName ? [cfg.adopt.processName] : [...(profile.process.names[platform.os] ?? [])],
    start,
    managed: cfg.start !== undefined,
  };
  return deepFreeze(resolved);
}
