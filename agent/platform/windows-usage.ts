import type { CommandRunner } from './common.ts';

/** Same shape as agent/monitors/resources.ts ProcessUsage. */
export interface WindowsUsage {
  cpuPercent: number;
  rssBytes: number;
  elapsedMs: number;
}

/** FILETIME and CPU times are in 100 ns units. */
const TICKS_PER_MS = 10_000;
/** A pid not sampled for this long starts over (its first reading has no CPU figure). */
const FORGET_MS = 60_000;

/**
 * CPU %, working set and age of a Windows process through the service wrapper's
 * `--usage <pid>` (GetProcessTimes + GetProcessMemoryInfo). pidusage would run WMIC
 * (gone from Windows 11 24H2) or a PowerShell WMI query for every sample of every
 * game. CPU % is of one core since the previous sample of the same pid (NaN on the
 * first), as pidusage reports it.
 */
export function windowsUsageSampler(helper: string, run: CommandRunner, timeoutMs: number): (pid: number) => Promise<WindowsUsage> {
  const previous = new Map<number, { creation: number; cpu: number; now: number }>();
  return async (pid) => {
    const r = await run(helper, ['--usage', String(pid)], { timeoutMs });
    const m = /^(\d+) (\d+) (\d+) (\d+)\s*$/.exec(r.stdout);
    if (r.exitCode !== 0 || !m) throw new Error(`${helper} --usage ${pid} failed (exit ${r.exitCode}): ${(r.stderr || r.stdout).trim().split(/\r?\n/)[0] ?? ''}`);
    const [creation, cpu, workingSet, now] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
    for (const [p, s] of previous) if ((now - s.now) / TICKS_PER_MS > FORGET_MS) previous.delete(p);
    const before = previous.get(pid);
    previous.set(pid, { creation, cpu, now });
    // The same pid with another creation time is another process: no CPU figure across them.
    const cpuPercent = before && before.creation === creation && now > before.now ? ((cpu - before.cpu) / (now - before.now)) * 100 : Number.NaN;
    return { cpuPercent, rssBytes: workingSet, elapsedMs: (now - creation) / TICKS_PER_MS };
  };
}
