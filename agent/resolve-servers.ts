import os from 'node:os';
import { ConfigError } from '../lib/config-file.ts';
import { loadGameProfiles, mergeProfile } from '../games/loader.ts';
import { resolveServer } from '../games/resolve.ts';
import type { AgentConfig } from './config.ts';
import type { ResolvedServer } from './types.ts';

/**
 * Joins each server of agent.yaml with its game profile for this platform.
 * Errors name the config file and the `servers.N...` key, like schema errors.
 */
export function resolveAgentServers(cfg: AgentConfig, platform: 'linux' | 'windows' = process.platform === 'win32' ? 'windows' : 'linux'): ResolvedServer[] {
  const profiles = loadGameProfiles(cfg.gamesDir ? { extraDir: cfg.gamesDir } : {});
  const problems: string[] = [];
  const resolved: ResolvedServer[] = [];
  cfg.servers.forEach((server, i) => {
    const base = profiles.get(server.game);
    if (!base) {
      problems.push(`servers.${i}.game: unknown game "${server.game}"; expected one of ${[...profiles.keys()].join(', ')}`);
      return;
    }
    try {
      const profile = server.profile ? mergeProfile(base, server.profile, `servers.${i}.profile`) : base;
      resolved.push(resolveServer(server, profile, { os: platform, home: os.homedir(), env: process.env }));
    } catch (err) {
      if (err instanceof ConfigError) problems.push(...err.problems);
      else problems.push(`servers.${i}: ${(err as Error).message}`);
    }
  });
  if (problems.length) throw new ConfigError(cfg.configFile, problems);
  return resolved;
}
