import type { Logger } from '../../lib/logger.ts';
import { SteamCmdError, type SteamCmd } from './steamcmd.ts';
import { readManifest } from './vdf.ts';

export interface BuildCheck {
  installedBuild: string | null;
  latestBuild: string;
  available: boolean;
  /** The answer came only after the app-info cache was cleared. */
  refreshed: boolean;
}

/** True when build a is newer than b (numeric build ids; any difference counts when they are not numbers). */
export function isNewer(a: string, b: string | null): boolean {
  if (b === null) return true;
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return BigInt(a) > BigInt(b);
  return a !== b;
}

/**
 * The latest build of a branch against the installed one. SteamCMD may answer
 * from a stale app-info cache and so miss a build (LinuxGSM's workaround:
 * delete appcache/appinfo.vdf and ask again). An answer that shows nothing
 * newer, or a time-out, is therefore asked once more with the cache cleared,
 * so "up to date" is only ever said on fresh information.
 */
export async function checkBuild(steam: SteamCmd, req: { appId: number; branch: string; installDir: string; signal?: AbortSignal; logger: Logger }): Promise<BuildCheck> {
  const manifest = await readManifest(req.installDir, req.appId);
  const installedBuild = manifest?.fullyInstalled ? manifest.buildid : null;
  const ask = async (): Promise<string> => {
    const branches = await steam.appInfo(req.appId, req.signal);
    const b = branches.get(req.branch);
    if (!b) throw new SteamCmdError('denied', `Steam knows no branch "${req.branch}" for app ${req.appId}; branches: ${[...branches.keys()].join(', ') || '(none)'} (update.branch)`);
    return b.buildid;
  };
  let latest: string;
  let refreshed = false;
  try {
    latest = await ask();
  } catch (err) {
    if (!(err instanceof SteamCmdError) || err.kind !== 'timeout') throw err;
    req.logger.info({ err: err.message }, 'app info query timed out; clearing the app-info cache and asking again');
    await steam.clearAppInfoCache();
    latest = await ask();
    refreshed = true;
  }
  if (!refreshed && !isNewer(latest, installedBuild)) {
    await steam.clearAppInfoCache();
    latest = await ask();
    refreshed = true;
  }
  return { installedBuild, latestBuild: latest, available: isNewer(latest, installedBuild), refreshed };
}
