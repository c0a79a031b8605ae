import nodeOs from 'node:os';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { loadExeca } from '../lib/execa-lazy.ts';
import { createLinuxOps } from './platform/linux.ts';
import { createWindowsOps, type GameLaunchSpec, type LaunchedGame } from './platform/windows.ts';
import type { CommandRunner, KillFn, ProcessMatch, SoftStopResult, SyncCommandRunner } from './platform/common.ts';

export type { CommandResult, CommandRunner, KillFn, ProcessMatch, SoftStopResult, SyncCommandRunner } from './platform/common.ts';
export type { GameLaunchSpec, LaunchedGame } from './platform/windows.ts';
export { parseTasklistCsv } from './platform/windows.ts';

/**
 * The one place that knows which operating system the agent runs on.
 * Everything else asks a `Platform` object, so Windows behaviour can be
 * tested on Linux with `createPlatform({ os: 'windows', run, kill })`.
 */

export type OsName = 'linux' | 'windows';

export interface SpawnOptions {
  /**
   * Linux: own session and process group, so a signal to -pid reaches the game's children (wrapper scripts,
   * java), and the game outlives the agent (no SIGHUP, no shared group with the agent's service manager).
   * Windows (only without the service wrapper, see launchGame): out of node's job object, so the game
   * outlives the agent; DETACHED_PROCESS leaves it no console, hence no Ctrl+C stop.
   */
  detached: boolean;
  /** Windows: no console window pops up on the desktop. */
  windowsHide: boolean;
}

/** What to spawn for a start command: a batch file runs through cmd.exe, its arguments passed verbatim. */
export interface SpawnCommand {
  file: string;
  args: string[];
  /** Windows: the arguments are already a quoted command line (windowsVerbatimArguments). */
  verbatim: boolean;
}

/** Folders the game profiles refer to as ${home}, ${appData}, ${localAppData}, ${userProfile}. */
export interface PlatformDirs {
  home: string;
  userProfile: string;
  appData: string;
  localAppData: string;
}

export interface Platform {
  readonly os: OsName;
  /** path.posix or path.win32: use it for the target OS's paths (profile paths, save dirs). */
  readonly path: path.PlatformPath;
  readonly dirs: PlatformDirs;
  /** False on Windows without a console Ctrl+C helper: only the admin channel or a hard kill can stop a game. */
  readonly canSoftStop: boolean;
  /** Asks the process to exit the way Ctrl+C would. The caller waits for the exit and escalates to hardKill. */
  softStop(pid: number): Promise<SoftStopResult>;
  /** Ends the process and its children now. Resolves also when it was already gone. */
  hardKill(pid: number): Promise<void>;
  isAlive(pid: number): boolean;
  /** When the process started, as an opaque token (Linux: /proc starttime); null when unknown. Guards pid files against pid reuse. */
  processStartTime(pid: number): string | null;
  /** Running processes whose executable name matches one of `names` (case-insensitive on Windows). */
  findProcessByName(names: readonly string[]): Promise<ProcessMatch[]>;
  /** The pid in a pid file, or null when the file is missing or holds no valid pid. */
  readPidFile(file: string): Promise<number | null>;
  spawnOptions(): SpawnOptions;
  spawnCommand(command: string, args: readonly string[]): SpawnCommand;
  /**
   * Windows under the service wrapper: starts the game in a lifetime and console of its own
   * (the wrapper's --launch) and returns its pid; the game is not node's child. Null elsewhere:
   * spawn spawnCommand() with spawnOptions().
   */
  readonly launchGame: ((spec: GameLaunchSpec) => Promise<LaunchedGame>) | null;
}

export interface PlatformOptions {
  /** Default: the OS the agent runs on. */
  os?: OsName;
  /** Default: process.env. Read once for HOME / USERPROFILE / APPDATA / XDG_* dirs. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Default: os.homedir(). */
  homeDir?: string;
  /** Default: execa. Tests inject a runner to assert exact command lines. */
  run?: CommandRunner;
  /** Default: execFileSync. Windows: the wrapper's --start-time. */
  runSync?: SyncCommandRunner;
  /** Default: process.kill. */
  kill?: KillFn;
  /** Linux: where /proc is (tests may point it at a fixture). */
  procDir?: string;
  /**
   * Windows: the service wrapper exe (deploy/windows), which launches games (`--launch`), sends one
   * game Ctrl+C (`--ctrl-c <pid>`) and tells process start times. Default: RECONSYNC_WINDOWS_HELPER,
   * which the wrapper sets for the agent it runs. Without it, games start detached and a Windows
   * game with no admin channel can only be hard-stopped.
   */
  windowsHelper?: string;
  /** Upper bound for taskkill / tasklist / the helper. */
  commandTimeoutMs?: number;
}

export const DefaultPlatformOptions = {
  procDir: '/proc',
  commandTimeoutMs: 15_000,
} as const satisfies Partial<PlatformOptions>;

export const execaRunner: CommandRunner = async (file, args, opts = {}) => {
  const execa = await loadExeca();
  const r = await execa(file, [...args], {
    reject: false,
    windowsHide: true,
    stripFinalNewline: false,
    ...(opts.timeoutMs !== undefined ? { timeout: opts.timeoutMs } : {}),
    ...(opts.signal ? { cancelSignal: opts.signal } : {}),
    ...(opts.env ? { env: opts.env, extendEnv: false } : {}),
  });
  return {
    exitCode: typeof r.exitCode === 'number' ? r.exitCode : -1,
    stdout: typeof r.stdout === 'string' ? r.stdout : '',
    stderr: typeof r.stderr === 'string' && r.stderr !== '' ? r.stderr : (r.failed ? String(r.message ?? '') : ''),
  };
};

export const execFileSyncRunner: SyncCommandRunner = (file, args, timeoutMs) => {
  try {
    return execFileSync(file, [...args], { encoding: 'utf8', timeout: timeoutMs, windowsHide: true, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return null;
  }
};

export function hostOs(): OsName {
  return process.platform === 'win32' ? 'windows' : 'linux';
}

export function createPlatform(opts: PlatformOptions = {}): Platform {
  const os = opts.os ?? hostOs();
  const env = opts.env ?? process.env;
  const pathImpl = os === 'windows' ? path.win32 : path.posix;
  const kill: KillFn = opts.kill ?? ((pid, sig) => process.kill(pid, sig));
  const run = opts.run ?? execaRunner;
  const commandTimeoutMs = opts.commandTimeoutMs ?? DefaultPlatformOptions.commandTimeoutMs;
  const dirs = platformDirs(os, env, opts.homeDir ?? nodeOs.homedir(), pathImpl);

  const helper = opts.windowsHelper ?? (env.RECONSYNC_WINDOWS_HELPER || null);
  const windows = os === 'windows'
    ? createWindowsOps({ run, runSync: opts.runSync ?? execFileSyncRunner, kill, commandTimeoutMs, helper, comspec: windowsComspec(env) })
    : null;
  const ops = windows ?? createLinuxOps({ kill, procDir: opts.procDir ?? DefaultPlatformOptions.procDir });

  return {
    os,
    path: pathImpl,
    dirs,
    canSoftStop: ops.canSoftStop,
    softStop: ops.softStop,
    hardKill: ops.hardKill,
    isAlive: ops.isAlive,
    processStartTime: ops.processStartTime,
    findProcessByName: ops.findProcessByName,
    readPidFile,
    spawnOptions: () => ({ detached: true, windowsHide: os === 'windows' }),
    spawnCommand: (command, args) => windows?.spawnCommand(command, args) ?? { file: command, args: [...args], verbatim: false },
    launchGame: windows?.launchGame ?? null,
  };
}

/** cmd.exe as Windows names it (ComSpec), else the system one. Environment names are case-insensitive there. */
function windowsComspec(env: Readonly<Record<string, string | undefined>>): string {
  const get = (name: string) => Object.entries(env).find(([k]) => k.toUpperCase() === name)?.[1];
  return get('COMSPEC') || path.win32.join(get('SYSTEMROOT') || 'C:\\Windows', 'System32', 'cmd.exe');
}

function platformDirs(os: OsName, env: Readonly<Record<string, string | undefined>>, homeDir: string, p: path.PlatformPath): PlatformDirs {
  if (os === 'windows') {
    const home = env.USERPROFILE || homeDir;
    return {
      home,
      userProfile: home,
      appData: env.APPDATA || p.join(home, 'AppData', 'Roaming'),
      localAppData: env.LOCALAPPDATA || p.join(home, 'AppData', 'Local'),
    };
  }
  const home = env.HOME || homeDir;
  return {
    home,
    userProfile: home,
    appData: env.XDG_CONFIG_HOME || p.join(home, '.config'),
    localAppData: env.XDG_DATA_HOME || p.join(home, '.local', 'share'),
  };
}

/** Parses a pid file: first token must be a positive integer (some tools append a newline or the start time). */
export async function readPidFile(file: string): Promise<number | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const first = text.trim().split(/\s+/)[0] ?? '';
  if (!/^\d+$/.test(first)) return null;
  const pid = Number(first);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
}
