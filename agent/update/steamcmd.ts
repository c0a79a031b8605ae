import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { loadExeca } from '../../lib/execa-lazy.ts';
import type { Logger } from '../../lib/logger.ts';
import { gameEnvironment } from '../platform/game-env.ts';
import type { OsName } from '../platform.ts';
import { explainInstallError, explainState, parseSteamLine, type UpdateFailureKind } from './output.ts';
import { parseAppInfo, type BranchInfo } from './vdf.ts';

/** One SteamCMD run: its lines (as they came), exit code (unreliable, see output.ts) and whether our timeout ended it. */
export interface SteamCmdRun { exitCode: number | null; timedOut: boolean; lines: string[] }

export interface RunOptions { timeoutMs: number; signal?: AbortSignal; onLine?: (line: string) => void }

/** Runs SteamCMD; injected in tests that need a failure the stand-in cannot give (style.md §3). */
export type SteamCmdRunner = (file: string, args: readonly string[], opts: RunOptions) => Promise<SteamCmdRun>;

/** Lines kept per run: enough for the verdict and a log excerpt, bounded for a chatty first run. */
const MAX_LINES = 2000;

/**
 * SteamCMD's environment: what a game gets (the OS and runtime names, see game-env.ts)
 * plus variables an operator set for it (`STEAMCMD_…`). Never the agent's whole
 * environment: it holds RECONSYNC_AGENT_TOKEN and every agent.env secret.
 */
export function steamCmdEnvironment(hostEnv: Readonly<Record<string, string | undefined>>, os: OsName): Record<string, string> {
  const env = gameEnvironment(hostEnv, {}, os);
  for (const [name, value] of Object.entries(hostEnv)) if (value !== undefined && name.toUpperCase().startsWith('STEAMCMD_')) env[name] = value;
  return env;
}

/** execa, never a shell: arguments (install paths with spaces, passwords) reach SteamCMD as given. */
export const execaSteamCmd: SteamCmdRunner = async (file, args, opts) => {
  const execa = await loadExeca();
  const child = execa(file, [...args], {
    env: steamCmdEnvironment(process.env, process.platform === 'win32' ? 'windows' : 'linux'), extendEnv: false,
    reject: false, stdin: 'ignore', windowsHide: true, timeout: opts.timeoutMs, forceKillAfterDelay: 5000,
    ...(opts.signal ? { cancelSignal: opts.signal } : {}),
  });
  const lines: string[] = [];
  const collect = (stream: NodeJS.ReadableStream | null) => {
    if (!stream) return Promise.resolve();
    const rl = createInterface({ input: stream, crlfDelay: Infinity });
    rl.on('line', (line) => {
      if (lines.length < MAX_LINES) lines.push(line);
      opts.onLine?.(line);
    });
    return new Promise<void>((resolve) => rl.once('close', resolve));
  };
  const [r] = await Promise.all([child, collect(child.stdout), collect(child.stderr)]);
  return { exitCode: typeof r.exitCode === 'number' ? r.exitCode : null, timedOut: r.timedOut === true, lines };
};

export interface SteamCmdOptions {
  /** The configured program; undefined = look on PATH. */
  path?: string;
  os: 'linux' | 'windows';
  appCacheDir?: string;
  timeoutMs: number;
  infoTimeoutMs: number;
  runner?: SteamCmdRunner;
  logger: Logger;
  env?: Readonly<Record<string, string | undefined>>;
  homeDir?: string;
}

export type AppUpdateResult =
  | { ok: true; upToDate: boolean; lines: string[] }
  | { ok: false; kind: UpdateFailureKind; message: string; lines: string[] };

export interface AppUpdateRequest {
  installDir: string;
  appId: number;
  branch: string;
  betaPassword?: string;
  validate: boolean;
  signal?: AbortSignal;
  onProgress?: (p: { phase: string; percent: number; done: number; total: number }) => void;
}

function onPath(names: string[], env: Readonly<Record<string, string | undefined>>, pathImpl: path.PlatformPath): string | undefined {
  const dirs = (env.PATH ?? env.Path ?? '').split(pathImpl.delimiter).filter(Boolean);
  for (const name of names) for (const dir of dirs) if (existsSync(pathImpl.join(dir, name))) return pathImpl.join(dir, name);
  return undefined;
}

/** The SteamCMD program: the configured one, else steamcmd / steamcmd.sh on PATH (steamcmd.exe on Windows). */
export function resolveSteamCmd(configured: string | undefined, osName: 'linux' | 'windows', env: Readonly<Record<string, string | undefined>> = process.env): string {
  if (configured) return configured;
  const pathImpl = osName === 'windows' ? path.win32 : path.posix;
  const names = osName === 'windows' ? ['steamcmd.exe'] : ['steamcmd', 'steamcmd.sh'];
  return onPath(names, env, pathImpl) ?? names[0]!;
}

/**
 * SteamCMD as an external program, like rclone: app info (latest build per
 * branch) and app_update (install/update into a folder). Verdicts come from
 * the output lines, never from the exit code alone.
 */
export class SteamCmd {
  readonly file: string;
  readonly #o: SteamCmdOptions;
  readonly #run: SteamCmdRunner;

  constructor(o: SteamCmdOptions) {
    this.#o = o;
    this.file = resolveSteamCmd(o.path, o.os, o.env ?? process.env);
    this.#run = o.runner ?? execaSteamCmd;
  }

  /** Folders of SteamCMD's app-info cache: cleared when an answer may be stale (LinuxGSM does the same). */
  appCacheDirs(): string[] {
    if (this.#o.appCacheDir) return [this.#o.appCacheDir];
    const pathImpl = this.#o.os === 'windows' ? path.win32 : path.posix;
    const home = this.#o.homeDir ?? os.homedir();
    const dirs = [pathImpl.join(home, 'Steam', 'appcache'), pathImpl.join(home, '.steam', 'steamcmd', 'appcache'), pathImpl.join(home, '.local', 'share', 'Steam', 'appcache')];
    if (pathImpl.isAbsolute(this.file)) dirs.unshift(pathImpl.join(pathImpl.dirname(this.file), 'appcache'));
    return dirs;
  }

  async clearAppInfoCache(): Promise<void> {
    for (const dir of this.appCacheDirs()) await rm(path.join(dir, 'appinfo.vdf'), { force: true });
  }

  /** Latest builds per branch, as SteamCMD's app info says (maybe from its cache). */
  async appInfo(appId: number, signal?: AbortSignal): Promise<Map<string, BranchInfo>> {
    const args = ['+login', 'anonymous', '+app_info_update', '1', '+app_info_print', String(appId), '+quit'];
    const run = await this.#run(this.file, args, { timeoutMs: this.#o.infoTimeoutMs, ...(signal ? { signal } : {}) });
    if (run.timedOut) throw new SteamCmdError('timeout', `SteamCMD did not answer the app info query within ${this.#o.infoTimeoutMs} ms`);
    const header = run.lines.findIndex((l) => parseSteamLine(l).kind === 'appinfo-header');
    if (header < 0) {
      const timeout = run.lines.some((l) => parseSteamLine(l).kind === 'timeout');
      if (timeout) throw new SteamCmdError('timeout', 'SteamCMD timed out waiting for the app info update');
      throw new SteamCmdError('unknown', `SteamCMD printed no app info for ${appId} (exit code ${run.exitCode}); last line: ${run.lines.at(-1) ?? '(none)'}`);
    }
    // The tree runs from the line after the header to the first closing brace at column 0.
    const rest = run.lines.slice(header + 1);
    const end = rest.findIndex((l) => l.replace(/\r$/, '') === '}');
    if (end < 0) throw new SteamCmdError('unknown', `SteamCMD's app info of ${appId} was cut off`);
    return parseAppInfo(rest.slice(0, end + 1).join('\n'), appId);
  }

  /** `+force_install_dir <dir> +login anonymous +app_update <id> [-beta b [-betapassword p]] [validate] +quit`. */
  async appUpdate(req: AppUpdateRequest): Promise<AppUpdateResult> {
    const args = ['+force_install_dir', req.installDir, '+login', 'anonymous', '+app_update', String(req.appId)];
    if (req.branch !== 'public') {
      args.push('-beta', req.branch);
      if (req.betaPassword) args.push('-betapassword', req.betaPassword);
    }
    if (req.validate) args.push('validate');
    args.push('+quit');
    let verdict: AppUpdateResult | null = null;
    const run = await this.#run(this.file, args, {
      timeoutMs: this.#o.timeoutMs,
      ...(req.signal ? { signal: req.signal } : {}),
      onLine: (line) => {
        const l = parseSteamLine(line);
        if (l.kind === 'progress') req.onProgress?.({ phase: l.phase, percent: l.percent, done: l.done, total: l.total });
      },
    });
    for (const line of run.lines) {
      const l = parseSteamLine(line);
      if (l.kind === 'installed' && l.appId === req.appId) verdict = { ok: true, upToDate: l.upToDate, lines: run.lines };
      else if (l.kind === 'state-error') verdict = { ok: false, ...explainState(l.state), message: explainState(l.state).text, lines: run.lines };
      else if (l.kind === 'install-error') verdict = { ok: false, ...explainInstallError(l.reason), message: explainInstallError(l.reason).text, lines: run.lines };
      else if (l.kind === 'timeout') verdict = { ok: false, kind: 'timeout', message: 'SteamCMD timed out waiting for Steam', lines: run.lines };
    }
    if (run.timedOut) return { ok: false, kind: 'timeout', message: `SteamCMD did not finish within ${this.#o.timeoutMs} ms (steamcmd.timeoutMs)`, lines: run.lines };
    if (verdict) return stripText(verdict);
    return { ok: false, kind: 'unknown', message: `SteamCMD ended (exit code ${run.exitCode}) without a success or error line; last line: ${run.lines.at(-1) ?? '(none)'}`, lines: run.lines };
  }
}

/** explainX returns {kind, text}; results carry {kind, message}. */
function stripText(r: AppUpdateResult): AppUpdateResult {
  if (r.ok) return r;
  return { ok: false, kind: r.kind, message: r.message, lines: r.lines };
}

export class SteamCmdError extends Error {
  constructor(readonly kind: UpdateFailureKind, message: string) {
    super(message);
    this.name = 'SteamCmdError';
  }
}
