import { systemClock, type Clock } from '../../protocol/index.ts';
import type { Logger } from '../../lib/logger.ts';
import type { AppUpdateRequest, SteamCmd } from './steamcmd.ts';
import type { UpdateFailureKind } from './output.ts';
import { readManifest } from './vdf.ts';

export interface InstallOptions extends AppUpdateRequest {
  /** Further attempts after a transient failure (0x402, 0x602, time-outs). */
  retries: number;
  /** Wait before the first retry, doubled for each further one. */
  retryDelayMs?: number;
  clock?: Clock;
  logger: Logger;
  onAttempt?: (attempt: number, reason: string) => void;
}

export type InstallResult =
  | { ok: true; build: string; upToDate: boolean; attempts: number }
  | { ok: false; kind: UpdateFailureKind | 'manifest'; message: string; attempts: number };

const RETRYABLE = new Set<UpdateFailureKind>(['transient', 'timeout']);
const DefaultRetryDelayMs = 5000;

/**
 * app_update with retries on transient states, then the manifest decides:
 * success only when appmanifest_<appid>.acf is fully installed at a build
 * (the expected one when given). SteamCMD's own success line is not enough.
 */
export async function installBuild(steam: SteamCmd, o: InstallOptions & { expectBuild?: string }): Promise<InstallResult> {
  const clock = o.clock ?? systemClock;
  let delay = o.retryDelayMs ?? DefaultRetryDelayMs;
  for (let attempt = 1; ; attempt += 1) {
    const r = await steam.appUpdate(o);
    if (r.ok) {
      const m = await readManifest(o.installDir, o.appId).catch((err: unknown) => {
        o.logger.warn({ err }, 'could not read the app manifest after SteamCMD reported success');
        return null;
      });
      if (!m || !m.fullyInstalled) return { ok: false, kind: 'manifest', message: `SteamCMD reported success but ${m ? 'the manifest is not fully installed' : 'wrote no appmanifest_' + o.appId + '.acf'} in ${o.installDir}`, attempts: attempt };
      if (o.expectBuild !== undefined && m.buildid !== o.expectBuild) {
        return { ok: false, kind: 'manifest', message: `SteamCMD installed build ${m.buildid}, not the expected ${o.expectBuild} (Steam may have changed the branch meanwhile)`, attempts: attempt };
      }
      return { ok: true, build: m.buildid, upToDate: r.upToDate, attempts: attempt };
    }
    if (!RETRYABLE.has(r.kind) || attempt > o.retries || o.signal?.aborted) return { ok: false, kind: r.kind, message: attempt > 1 ? `${r.message} (after ${attempt} attempts)` : r.message, attempts: attempt };
    o.logger.warn({ attempt, reason: r.message }, 'SteamCMD failed with a transient state; trying again');
    o.onAttempt?.(attempt + 1, r.message);
    await clock.sleep(delay, o.signal);
    delay *= 2;
  }
}
