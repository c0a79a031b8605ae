import path from 'node:path';
import { closeSync, openSync, readSync } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { probeAlive, type KillFn, type OsOps, type ProcessMatch } from './common.ts';

/** Linux truncates /proc/<pid>/comm to 15 bytes ("valheim_server.x86_64" shows as "valheim_server."). */
const COMM_MAX = 15;

export interface LinuxDeps {
  kill: KillFn;
  procDir: string;
}

export function createLinuxOps(deps: LinuxDeps): OsOps {
  const { kill, procDir } = deps;

  /**
   * Signals the process group first: we spawn games detached (own group), so
   * wrapper scripts and their java/wine children get the signal too, as with
   * Ctrl+C in a terminal. A pid that leads no group (an adopted process) makes
   * kill(-pid) fail with ESRCH, and then only the process itself is signalled.
   */
  function signalTree(pid: number, signal: NodeJS.Signals): boolean {
    for (const target of [-pid, pid]) {
      try {
        kill(target, signal);
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
      }
    }
    return false;
  }

  return {
    canSoftStop: true,
    async softStop(pid) {
      const sent = signalTree(pid, 'SIGINT');
      return { supported: true, message: sent ? 'SIGINT' : 'process already gone' };
    },
    async hardKill(pid) {
      signalTree(pid, 'SIGKILL');
    },
    isAlive(pid) {
      if (!probeAlive(kill, pid)) return false;
      // A zombie still answers kill(pid, 0) until its parent reaps it; it is dead for us.
      return readState(procDir, pid) !== 'Z';
    },
    processStartTime(pid) {
      return statFields(procDir, pid)?.[STAT_STARTTIME] ?? null;
    },
    async findProcessByName(names) {
      const wanted = new Set(names);
      if (wanted.size === 0) return [];
      let entries: string[];
      try {
        entries = await readdir(procDir);
      } catch {
        return [];
      }
      const matches: ProcessMatch[] = [];
      // One process at a time through one buffer: readFile() allocates 64 KiB for every
      // /proc file (they report size 0), ~30 MiB of garbage per scan of a few hundred
      // processes, which an idle agent kept in its RSS until the next major GC.
      const buf = Buffer.allocUnsafe(PROC_READ_BYTES);
      for (const entry of entries) {
        if (!/^\d+$/.test(entry)) continue;
        const pid = Number(entry);
        if (pid === process.pid) continue;
        const found = await matchProcess(procDir, pid, wanted, buf);
        if (found) matches.push({ pid, name: found });
      }
      return matches.sort((a, b) => a.pid - b.pid);
    },
  };
}

/** Enough of a command line for its first arguments; a longer one is cut (its tail names no program). */
const PROC_READ_BYTES = 16 * 1024;

/** Reads a /proc file into `buf` (at most its length) and decodes it; the buffer is the caller's, reused. */
async function readProcFile(file: string, buf: Buffer): Promise<string> {
  const fh = await open(file, 'r');
  try {
    let used = 0;
    while (used < buf.length) {
      const { bytesRead } = await fh.read(buf, used, buf.length - used, null);
      if (bytesRead === 0) break;
      used += bytesRead;
    }
    return buf.toString('utf8', 0, used);
  } finally {
    await fh.close();
  }
}

/** Index of starttime (field 22 of proc(5), clock ticks since boot) in statFields(): field 3 is index 0. */
const STAT_STARTTIME = 19;

/** /proc/<pid>/stat from field 3 (state) on: split after the last ')', since comm may hold spaces or parens. */
function statFields(procDir: string, pid: number): string[] | null {
  try {
    const stat = readSmallSync(path.join(procDir, String(pid), 'stat'));
    return stat.slice(stat.lastIndexOf(')') + 2).trim().split(' ');
  } catch {
    return null;
  }
}

/** /proc/<pid>/stat is under 1 KiB; readFileSync would allocate 64 KiB per call (the file reports size 0). */
const statBuf = Buffer.allocUnsafe(4096);

function readSmallSync(file: string): string {
  const fd = openSync(file, 'r');
  try {
    return statBuf.toString('utf8', 0, readSync(fd, statBuf, 0, statBuf.length, 0));
  } finally {
    closeSync(fd);
  }
}

/** Process state letter (R, S, Z...). */
function readState(procDir: string, pid: number): string | null {
  return statFields(procDir, pid)?.[0] || null;
}

/**
 * A process matches a name by its comm, by a truncated comm that the command line
 * confirms, or by the basename of argv[0]/argv[1] (covers `wine X.exe`, `bash start.sh`).
 * win32.basename splits on both separators, so Wine's "Z:\...\x.exe" works too.
 */
async function matchProcess(procDir: string, pid: number, wanted: Set<string>, buf: Buffer): Promise<string | null> {
  let comm: string;
  let argv: string[];
  try {
    comm = (await readProcFile(path.join(procDir, String(pid), 'comm'), buf)).replace(/\n$/, '');
    argv = (await readProcFile(path.join(procDir, String(pid), 'cmdline'), buf)).split('\0').filter((a) => a.length > 0);
  } catch {
    return null; // gone meanwhile, or not ours to read
  }
  if (wanted.has(comm)) return comm;
  for (const arg of argv.slice(0, 2)) {
    const base = path.win32.basename(arg);
    if (wanted.has(base)) return base;
  }
  if (comm.length === COMM_MAX) {
    for (const name of wanted) if (name.startsWith(comm) && argv.some((a) => a.endsWith(name))) return name;
  }
  return null;
}
