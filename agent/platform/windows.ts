import { ReconSyncError } from '../../protocol/index.ts';
import { batchArgs, isBatchFile, windowsCommandLine } from './windows-cmdline.ts';
import { probeAlive, type CommandRunner, type KillFn, type OsOps, type ProcessMatch, type SyncCommandRunner } from './common.ts';

/** taskkill's exit code when no process has that pid. */
const TASKKILL_NOT_FOUND = 128;

export interface WindowsDeps {
  run: CommandRunner;
  kill: KillFn;
  commandTimeoutMs: number;
  runSync: SyncCommandRunner;
  /**
   * The service wrapper exe (deploy/windows/GameProcess.cs): `--ctrl-c <pid>` sends Ctrl+C to
   * that game's own console, `--start-time <pid>` prints its creation time; null = none
   * installed (agent run by hand), so no graceful signal and no start times.
   */
  helper: string | null;
  /** cmd.exe, for .bat/.cmd start commands. */
  comspec: string;
}

/** A game the wrapper launched: its pid and creation time (for the pid file). */
export interface LaunchedGame {
  pid: number;
  startTime: string;
}

export interface GameLaunchSpec {
  command: string;
  args: readonly string[];
  cwd: string;
  /** The game's stdout and stderr go here (appended). */
  log: string;
  env: Record<string, string>;
}

export interface WindowsOps extends OsOps {
  /** The argv to spawn directly (no wrapper): a batch file through cmd.exe, passed verbatim. */
  spawnCommand(command: string, args: readonly string[]): { file: string; args: string[]; verbatim: boolean };
  /**
   * Starts a game through the wrapper's --launch: a hidden console of its own, outside
   * node's job object (libuv kills that job's processes when node exits), so restarting
   * the agent never takes the game down. Null without the wrapper.
   */
  launchGame: ((spec: GameLaunchSpec) => Promise<LaunchedGame>) | null;
}

/**
 * Windows has no graceful signal: Node's process.kill(pid, 'SIGINT') calls
 * TerminateProcess, so it is never used here (games.md, cross-cutting facts).
 */
export function createWindowsOps(deps: WindowsDeps): WindowsOps {
  const { run, runSync, kill, commandTimeoutMs, helper, comspec } = deps;
  const timeout = { timeoutMs: commandTimeoutMs };

  return {
    spawnCommand(command, args) {
      return isBatchFile(command) ? { file: comspec, args: batchArgs(command, args), verbatim: true } : { file: command, args: [...args], verbatim: false };
    },
    launchGame: helper === null ? null : async (spec) => {
      const cmdline = windowsCommandLine(spec.command, spec.args, comspec);
      const r = await run(helper, ['--launch', '--log', spec.log, '--cwd', spec.cwd, '--cmdline', cmdline], { ...timeout, env: spec.env });
      const m = /^(\d+) (\d+)\s*$/.exec(r.stdout);
      if (r.exitCode !== 0 || !m) {
        // execa's own failure text (wrapper missing, timeout) repeats the arguments, passwords included.
        const why = firstLine((r.stderr || r.stdout).split(cmdline).join('<command line>'));
        throw new ReconSyncError('INTERNAL', `cannot start ${spec.command} (wrapper --launch exit ${r.exitCode}): ${why}`);
      }
      return { pid: Number(m[1]), startTime: m[2]! };
    },
    canSoftStop: helper !== null,
    async softStop(pid) {
      if (helper === null) {
        return { supported: false, message: 'no graceful signal on Windows (SIGINT terminates outright) and no console Ctrl+C helper (the service wrapper; run the agent as the service)' };
      }
      // Only this game's console gets the Ctrl+C: each game was launched with a console of its own.
      const r = await run(helper, ['--ctrl-c', String(pid)], timeout);
      return r.exitCode === 0
        ? { supported: true, message: 'Ctrl+C via console helper' }
        : { supported: false, message: `console Ctrl+C helper failed (exit ${r.exitCode}): ${firstLine(r.stderr || r.stdout)}` };
    },
    async hardKill(pid) {
      // /T takes the child processes along (cmd.exe's game, a launcher's -Cmd child), /F forces it.
      const r = await run('taskkill', ['/PID', String(pid), '/T', '/F'], timeout);
      if (r.exitCode === 0) return;
      if (r.exitCode === TASKKILL_NOT_FOUND || !probeAlive(kill, pid)) return;
      throw new Error(`taskkill /PID ${pid} failed (exit ${r.exitCode}): ${firstLine(r.stderr || r.stdout)}`);
    },
    isAlive(pid) {
      // Signal 0 only tests for existence on Windows too; it does not terminate.
      return probeAlive(kill, pid);
    },
    // FILETIME ticks from GetProcessTimes, through the wrapper: the same number its --launch printed.
    processStartTime(pid) {
      if (helper === null) return null;
      const out = runSync(helper, ['--start-time', String(pid)], commandTimeoutMs)?.trim() ?? '';
      return /^\d+$/.test(out) ? out : null;
    },
    async findProcessByName(names) {
      const wanted = new Set(names.map((n) => n.toLowerCase()));
      if (wanted.size === 0) return [];
      const r = await run('tasklist', ['/FO', 'CSV', '/NH'], timeout);
      if (r.exitCode !== 0) throw new Error(`tasklist failed (exit ${r.exitCode}): ${firstLine(r.stderr || r.stdout)}`);
      return parseTasklistCsv(r.stdout)
        .filter((p) => wanted.has(p.name.toLowerCase()))
        .sort((a, b) => a.pid - b.pid);
    },
  };
}

/**
 * `tasklist /FO CSV /NH` prints one quoted row per process:
 * "Image Name","PID","Session Name","Session#","Mem Usage" — the memory field
 * holds a thousands separator inside the quotes ("123,456 K"). Lines that are
 * not rows (an "INFO: No tasks..." notice) are skipped.
 */
export function parseTasklistCsv(text: string): ProcessMatch[] {
  const out: ProcessMatch[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (!line.startsWith('"')) continue;
    const fields = parseCsvLine(line);
    const name = fields[0];
    const pidText = fields[1];
    if (!name || !pidText || !/^\d+$/.test(pidText)) continue;
    out.push({ name, pid: Number(pidText) });
  }
  return out;
}

function parseCsvLine(line: string): string[] {
  const fields: string[] = [];
  let i = 0;
  while (i < line.length) {
    if (line[i] === '"') {
      let value = '';
      i++;
      while (i < line.length) {
        if (line[i] === '"' && line[i + 1] === '"') { value += '"'; i += 2; continue; }
        if (line[i] === '"') { i++; break; }
        value += line[i++];
      }
      fields.push(value);
      if (line[i] === ',') i++;
    } else {
      const end = line.indexOf(',', i);
      fields.push(line.slice(i, end === -1 ? line.length : end));
      i = end === -1 ? line.length : end + 1;
    }
  }
  return fields;
}

function firstLine(text: string): string {
  return text.trim().split(/\r?\n/)[0]?.slice(0, 300) ?? '';
}
