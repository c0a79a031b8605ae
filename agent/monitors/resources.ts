import path from 'node:path';
import { accessSync, constants as fsConstants } from 'node:fs';
import { statfs } from 'node:fs/promises';
import pidusage from 'pidusage';
import type { Resources } from '../../protocol/index.ts';
import { execaRunner } from '../platform.ts';
import { windowsUsageSampler } from '../platform/windows-usage.ts';

/** What the resource figures are about: the game's process and the volume its saves live on. */
export interface ResourceTarget {
  /** The game's pid; null when no process is known. */
  pid: number | null;
  /** Clock ms when the supervisor saw the process start (spawned or adopted); a fallback for uptime. */
  startedAt: number | null;
  /** Any path on the save volume; need not exist yet (the nearest existing parent is measured). */
  savePath: string | null;
}

export interface ProcessUsage {
  cpuPercent: number;
  rssBytes: number;
  /** ms since the OS started the process. */
  elapsedMs: number;
}

export interface ResourceDeps {
  usage(pid: number): Promise<ProcessUsage>;
  /** Bytes available to an unprivileged user on the volume holding `dir`. */
  freeBytes(dir: string): Promise<number>;
  now(): number;
}

/**
 * pidusage measures CPU between two calls for the same pid and forgets a pid
 * after PIDUSAGE_HISTORY_MS without a call; a first call reads 0 %. We report
 * that first reading as unknown (NaN → null) instead of a misleading 0.
 */
const PIDUSAGE_HISTORY_MS = 60_000;

/*
 * On Linux pidusage asks `getconf CLK_TCK` and `getconf PAGESIZE` once per process
 * and, where getconf is missing (slim images, a service PATH without /usr/bin),
 * prints each failure with a stack trace to stderr, outside our JSON log, then uses
 * 100 and 4096 anyway. PIDUSAGE_SILENT is its switch for those prints (read when
 * it would print); resourceSamplerWarning() says the same once, in the log.
 */
process.env.PIDUSAGE_SILENT ??= '1';

/**
 * Why CPU and memory figures may be approximate on this host, or null. The agent
 * logs it once at start. Looks for getconf the way pidusage's shell would: on PATH.
 */
export function resourceSamplerWarning(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string | null {
  if (platform !== 'linux') return null;
  const onPath = (env.PATH ?? '').split(':').filter(Boolean).some((dir) => {
    try {
      accessSync(path.join(dir, 'getconf'), fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (onPath) return null;
  return 'getconf is not on PATH: CPU % and memory assume 100 clock ticks per second and 4 KiB pages (the usual Linux values); install libc-bin or put /usr/bin on the agent\'s PATH for exact figures';
}
const lastSampled = new Map<number, number>();

/** Windows under the service wrapper: its --usage, not pidusage's WMIC/PowerShell per sample. */
const windowsHelper = process.platform === 'win32' ? process.env.RECONSYNC_WINDOWS_HELPER : undefined;
const windowsUsage = windowsHelper ? windowsUsageSampler(windowsHelper, execaRunner, 10_000) : null;

export const defaultResourceDeps: ResourceDeps = {
  async usage(pid) {
    if (windowsUsage) return windowsUsage(pid);
    const now = Date.now();
    const previous = lastSampled.get(pid);
    const s = await pidusage(pid, { maxage: PIDUSAGE_HISTORY_MS });
    for (const [p, t] of lastSampled) if (now - t > PIDUSAGE_HISTORY_MS / 2) lastSampled.delete(p);
    lastSampled.set(pid, now);
    const fresh = previous !== undefined && now - previous < PIDUSAGE_HISTORY_MS / 2;
    return { cpuPercent: fresh ? s.cpu : Number.NaN, rssBytes: s.memory, elapsedMs: s.elapsed };
  },
  freeBytes: freeBytesOf,
  now: () => Date.now(),
};

export const unknownResources: Resources = Object.freeze({ cpuPercent: null, rssBytes: null, diskFreeBytes: null, uptimeSec: null });

/**
 * One sample of CPU % since the previous sample of the same pid (of one core;
 * can exceed 100 on several cores; null on the first sample), RSS, free
 * disk of the save volume and uptime. Each figure is null when it cannot be
 * read, so one failing source never hides the others.
 */
export async function sampleResources(target: ResourceTarget, deps: ResourceDeps = defaultResourceDeps): Promise<Resources> {
  const [usage, free] = await Promise.all([
    target.pid === null ? null : deps.usage(target.pid).catch(() => null),
    target.savePath === null ? null : deps.freeBytes(target.savePath).catch(() => null),
  ]);
  let uptimeSec: number | null = null;
  if (usage && Number.isFinite(usage.elapsedMs)) uptimeSec = Math.max(0, Math.floor(usage.elapsedMs / 1000));
  else if (target.pid !== null && target.startedAt !== null) uptimeSec = Math.max(0, Math.floor((deps.now() - target.startedAt) / 1000));
  return {
    cpuPercent: usage && Number.isFinite(usage.cpuPercent) ? Math.max(0, round1(usage.cpuPercent)) : null,
    rssBytes: usage && Number.isFinite(usage.rssBytes) ? Math.max(0, usage.rssBytes) : null,
    diskFreeBytes: free,
    uptimeSec,
  };
}

/** statfs of the path, or of its nearest existing parent (a save folder may not exist before the first start). */
export async function freeBytesOf(dir: string): Promise<number> {
  let current = path.resolve(dir);
  for (;;) {
    try {
      const s = await statfs(current);
      return s.bavail * s.bsize;
    } catch (err) {
      const parent = path.dirname(current);
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || parent === current) throw err;
      current = parent;
    }
  }
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
