import os from 'node:os';
import { ConfigError } from '../lib/config-file.ts';
import { didYouMean } from '../lib/suggest.ts';
import { loadGameProfiles, mergeProfile } from '../games/loader.ts';
import { ResolveError, resolveServer } from './resolve-server.ts';
import type { GameProfile } from '../games/profile.ts';
import type { AgentConfig, ServerConfig } from './config.ts';
import type { ResolvedServer } from './types.ts';
import { errorMessage } from '../lib/error-message.ts';
import { hostOs, type OsName } from './platform.ts';

/** The OS whose profile paths and commands apply; platform.ts owns the name and hostOs(). */
export type AgentPlatformOs = OsName;
export { hostOs };

/** `servers[ark-island]`: how every problem names a server. */
export function serverKey(id: string): string {
  return `servers[${id}]`;
}

/** Built-in profiles plus gamesDir; a bad profile file is a problem, and the built-in ones still count. */
export function loadProfilesForCheck(gamesDir: string | undefined, problems: string[]): Map<string, GameProfile> {
  try {
    return loadGameProfiles(gamesDir ? { extraDir: gamesDir } : {});
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems.map((p) => `gamesDir: ${err.file}: ${p}`));
    return loadGameProfiles();
  }
}

/** `servers[x].game: unknown game "valheimm" (did you mean "valheim"?); ...` or undefined when known. */
export function unknownGameProblem(serverId: string, game: string, profiles: ReadonlyMap<string, GameProfile>): string | undefined {
  if (profiles.has(game)) return undefined;
  return `${serverKey(serverId)}.game: unknown game "${game}"${didYouMean(game, profiles.keys())}; expected one of ${[...profiles.keys()].join(', ')} (see \`reconsync games\`)`;
}

/** One server joined with its profile, or the problems that prevent it. */
export function resolveOne(server: ServerConfig, profiles: ReadonlyMap<string, GameProfile>, platform: AgentPlatformOs): { server?: ResolvedServer; problems: string[] } {
  const base = profiles.get(server.game);
  if (!base) return { problems: [unknownGameProblem(server.id, server.game, profiles)!] };
  try {
    const profile = server.profile ? mergeProfile(base, server.profile, `${serverKey(server.id)}.profile`) : base;
    return { server: resolveServer(server, profile, { os: platform, home: os.homedir(), env: process.env }), problems: [] };
  } catch (err) {
    if (err instanceof ConfigError) return { problems: err.problems };
    // ResolveError already says `server "x":`; the key form replaces it.
    const message = err instanceof ResolveError ? err.message.replace(/^server "[^"]*": /, '') : errorMessage(err);
    return { problems: [`${serverKey(server.id)}: ${message}`] };
  }
}

/**
 * Joins each server of agent.yaml with its game profile for this platform.
 * Errors name the config file and the server by id (`servers[x].game`), like schema errors.
 */
export function resolveAgentServers(cfg: AgentConfig, platform: AgentPlatformOs = hostOs()): ResolvedServer[] {
  const problems: string[] = [];
  const profiles = loadProfilesForCheck(cfg.gamesDir, problems);
  const resolved: ResolvedServer[] = [];
  for (const server of cfg.servers) {
    const r = resolveOne(server, profiles, platform);
    problems.push(...r.problems);
    if (r.server) resolved.push(r.server);
  }
  if (problems.length) throw new ConfigError(cfg.configFile, problems);
  return resolved;
}
