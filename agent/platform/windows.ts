import { probeAlive, type CommandRunner, type KillFn, type OsOps, type ProcessMatch } from './common.ts';

/** taskkill's exit code when no process has that pid. */
const TASKKILL_NOT_FOUND = 128;

export interface WindowsDeps {
  run: CommandRunner;
  kill: KillFn;
  commandTimeoutMs: number;
  /** `<helper> <pid>` sends Ctrl+C to the game's console; null = none installed. */
  ctrlCHelper: string | null;
}

/**
 * Windows has no graceful signal: Node's process.kill(pid, 'SIGINT') calls
 * TerminateProcess, so it is never used here (games.md, cross-cutting facts).
 */
export function createWindowsOps(deps: WindowsDeps): OsOps {
  const { run, kill, commandTimeoutMs, ctrlCHelper } = deps;
  const timeout = { timeoutMs: commandTimeoutMs };

  return {
    canSoftStop: ctrlCHelper !== null,
    async softStop(pid) {
      if (ctrlCHelper === null) {
        return { supported: false, message: 'no graceful signal on Windows (SIGINT terminates outright) and no console Ctrl+C helper is configured' };
      }
      const r = await run(ctrlCHelper, [String(pid)], timeout);
      return r.exitCode === 0
        ? { supported: true, message: 'Ctrl+C via console helper' }
        : { supported: false, message: `console Ctrl+C helper failed (exit ${r.exitCode}): ${firstLine(r.stderr || r.stdout)}` };
    },
    async hardKill(pid) {
      // /T takes the child processes along, /F forces it.
      const r = await run('taskkill', ['/PID', String(pid), '/T', '/F'], timeout);
      if (r.exitCode === 0) return;
      if (r.exitCode === TASKKILL_NOT_FOUND || !probeAlive(kill, pid)) return;
      throw new Error(`taskkill /PID ${pid} failed (exit ${r.exitCode}): ${firstLine(r.stderr || r.stdout)}`);
    },
    isAlive(pid) {
      // Signal 0 only tests for existence on Windows too; it does not terminate.
      return probeAlive(kill, pid);
    },
    // Not known without a process query per call; pid files on Windows hold the pid alone for now.
    processStartTime: () => null,
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
