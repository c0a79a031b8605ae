/** Builds a ResolvedServer from the real game profiles, pointed at a fake on 127.0.0.1. */
import { ServerConfigSchema } from '../../../../agent/config.ts';
import type { ResolvedServer } from '../../../../agent/types.ts';
import { loadGameProfiles, mergeProfile } from '../../../../games/loader.ts';
import { resolveServer } from '../../../../agent/resolve-server.ts';

const profiles = loadGameProfiles();

export function resolvedFor(
  game: string,
  cfg: { queryPort?: number; rconPort?: number; password?: string; vars?: Record<string, string>; profile?: Record<string, unknown>; insecureTls?: boolean },
): ResolvedServer {
  const base = profiles.get(game);
  if (!base) throw new Error(`no profile ${game}`);
  const config = ServerConfigSchema.parse({
    id: `${game}-test`,
    game,
    installDir: '/srv/game',
    ...(cfg.queryPort !== undefined ? { query: { host: '127.0.0.1', port: cfg.queryPort } } : {}),
    rcon: {
      host: '127.0.0.1',
      ...(cfg.rconPort !== undefined ? { port: cfg.rconPort } : {}),
      ...(cfg.password !== undefined ? { password: cfg.password } : {}),
      ...(cfg.insecureTls !== undefined ? { insecureTls: cfg.insecureTls } : {}),
    },
    vars: cfg.vars ?? {},
  });
  const profile = cfg.profile ? mergeProfile(base, cfg.profile) : base;
  return resolveServer(config, profile, { os: 'linux', home: '/home/test', env: {} });
}
