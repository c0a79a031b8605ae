import { ReconSyncError } from '../../protocol/index.ts';
import type { Logger } from '../../lib/logger.ts';
import type { AgentConfig, UpdateConfig } from '../config.ts';
import type { ResolvedServer } from '../types.ts';
import { SteamCmd, type SteamCmdRunner } from './steamcmd.ts';

/** What SteamCMD needs to install or update one server. */
export interface SteamTarget {
  appId: number;
  installDir: string;
  branch: string;
  betaPassword?: string;
  validate: boolean;
  update: UpdateConfig | null;
}

/** The server's Steam app and install folder, or NOT_SUPPORTED saying what is missing. */
export function steamTarget(server: ResolvedServer): SteamTarget {
  const appId = server.profile.steam?.appId;
  if (appId === undefined) throw new ReconSyncError('NOT_SUPPORTED', `${server.id}: game ${server.profile.id} is not installed through Steam (its profile has no steam.appId); install and update it by hand`);
  const installDir = server.config.installDir;
  if (!installDir) throw new ReconSyncError('NOT_SUPPORTED', `${server.id}: no installDir in agent.yaml; SteamCMD needs the folder to install ${server.profile.name} into`);
  const update = server.config.update ?? null;
  return {
    appId, installDir, update,
    branch: update?.branch ?? 'public',
    ...(update?.betaPassword ? { betaPassword: update.betaPassword } : {}),
    validate: update?.validate ?? false,
  };
}

export function createSteamCmd(config: AgentConfig, os: 'linux' | 'windows', logger: Logger, runner?: SteamCmdRunner): SteamCmd {
  return new SteamCmd({
    os, logger,
    ...(config.steamcmd.path ? { path: config.steamcmd.path } : {}),
    ...(config.steamcmd.appCacheDir ? { appCacheDir: config.steamcmd.appCacheDir } : {}),
    timeoutMs: config.steamcmd.timeoutMs,
    infoTimeoutMs: config.steamcmd.infoTimeoutMs,
    ...(runner ? { runner } : {}),
  });
}
