import path from 'node:path';
import { spawn as spawnChild } from 'node:child_process';
import { mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { ReconSyncError, systemClock, type Clock } from '../../protocol/index.ts';
import { silentLogger, type Logger } from '../../lib/logger.ts';
import type { Platform, ProcessMatch } from '../platform.ts';
import type { ResolvedServer } from '../types.ts';
import { isSecretName, redactCommandLine } from '../../lib/redact.ts';
import { gameEnvironment } from '../platform/game-env.ts';
import { isBatchFile } from '../platform/windows-cmdline.ts';
import { DefaultLogRotation, openProcessLog, rotateIfLarge, type LogRotation } from './process-log.ts';
import { errorMessage } from '../../lib/error-message.ts';

export interface ExitInfo {
  /** Exit code when known (spawned processes); null for a signal or an adopted process. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** How a process ended, for state reasons and alerts. */
export function describeExit(info: ExitInfo): string {
  if (info.signal) return `signal ${info.signal}`;
  if (info.code !== null) return `code ${info.code}`;
  return 'process gone';
}

/** A game process the supervisor watches: one it spawned or one it found running. */
export interface ProcessHandle {
  readonly pid: number;
  /** Clock ms when we spawned or adopted it. */
  readonly startedAt: number;
  readonly adopted: boolean;
  /** How we got it: "spawned", "pid file /run/x.pid", "process name x". */
  readonly origin: string;
  /** Resolves once, when the process is gone. Never rejects. */
  readonly exited: Promise<ExitInfo>;
  isAlive(): boolean;
  /** Stops watching (the adopt poll, the log check) without touching the process. */
  release(): void;
}

/** Strategy for getting a game process (style.md §3): the supervisor never spawns by itself. */
export interface Launcher {
  /** Starts `server.start`; resolves once the OS created the process, rejects when it could not. */
  spawn(server: ResolvedServer): Promise<ProcessHandle>;
  /** Finds an already running game by pid file or process name; null when none runs. */
  adopt(server: ResolvedServer): Promise<ProcessHandle | null>;
}

export interface ProcessLauncherOptions {
  platform: Platform;
  /** Logs go to <dataDir>/logs/<serverId>.log, our pid files to <dataDir>/run/<serverId>.pid. */
  dataDir: string;
  clock?: Clock;
  logger?: Logger;
  /** How often an adopted process is checked for liveness (it is not our child: no exit event). */
  adoptPollMs?: number;
  /** How often a running game's log size is checked for rotation. */
  logCheckMs?: number;
  logRotation?: LogRotation;
}

export const DefaultProcessLauncherOptions = {
  adoptPollMs: 1000,
  logCheckMs: 60_000,
  logRotation: DefaultLogRotation,
} as const satisfies Partial<ProcessLauncherOptions>;

/** Interpreters and wrappers that say nothing about which game runs in them. */
const genericRuntimes = new Set(['java', 'java.exe', 'javaw.exe', 'node', 'node.exe', 'python', 'python3', 'python.exe', 'mono', 'wine', 'wine64', 'wine-preloader', 'wine64-preloader', 'bash', 'sh', 'cmd.exe', 'powershell.exe']);

/** Paths the launcher uses; the agent's own files, so always the host OS's path rules. */
export function launcherPaths(dataDir: string, serverId: string): { log: string; pidFile: string } {
  return { log: path.join(dataDir, 'logs', `${serverId}.log`), pidFile: path.join(dataDir, 'run', `${serverId}.pid`) };
}

export class ProcessLauncher implements Launcher {
  readonly #platform: Platform;
  readonly #dataDir: string;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #adoptPollMs: number;
  readonly #logCheckMs: number;
  readonly #rotation: LogRotation;

  constructor(opts: ProcessLauncherOptions) {
    this.#platform = opts.platform;
    this.#dataDir = opts.dataDir;
    this.#clock = opts.clock ?? systemClock;
    this.#logger = opts.logger ?? silentLogger;
    this.#adoptPollMs = opts.adoptPollMs ?? DefaultProcessLauncherOptions.adoptPollMs;
    this.#logCheckMs = opts.logCheckMs ?? DefaultProcessLauncherOptions.logCheckMs;
    this.#rotation = opts.logRotation ?? DefaultProcessLauncherOptions.logRotation;
  }

  async spawn(server: ResolvedServer): Promise<ProcessHandle> {
    const start = server.start;
    if (!start) throw new ReconSyncError('NOT_MANAGED', `${server.id} has no start: section; the agent only watches it`);
    const { log, pidFile } = launcherPaths(this.#dataDir, server.id);
    await mkdir(path.dirname(log), { recursive: true });
    await mkdir(path.dirname(pidFile), { recursive: true });
    await rotateIfLarge(log, this.#rotation, 'rename');

    // Only what the OS and runtimes need plus start.env: never the agent's token or agent.env secrets.
    const env = gameEnvironment(process.env, start.env, this.#platform.os);
    const out = await openProcessLog(log, this.#rotation);
    let pid: number;
    let startTime: string | null = null;
    const exit = deferred<ExitInfo>();
    try {
      await out.write(`--- reconsync ${new Date(this.#clock.now()).toISOString()}: starting ${redactCommandLine(start.command, start.args, serverSecrets(server))}\n`);
      if (this.#platform.launchGame) {
        return await this.#launchDetached(server, this.#platform.launchGame, env, log, pidFile);
      }
      const cmd = this.#platform.spawnCommand(start.command, start.args);
      const child = spawnChild(cmd.file, cmd.args, {
        cwd: start.cwd,
        env,
        stdio: ['ignore', out.fd, out.fd],
        windowsVerbatimArguments: cmd.verbatim,
        ...this.#platform.spawnOptions(),
      });
      pid = await new Promise<number>((resolve, reject) => {
        child.once('spawn', () => resolve(child.pid!));
        child.once('error', (err) => reject(new ReconSyncError('INTERNAL', `cannot start ${server.id}: ${start.command}: ${err.message}`, { cause: err })));
      });
      child.once('exit', (code, signal) => exit.resolve({ code, signal }));
      // A ChildProcess 'error' with no listener would crash the agent.
      child.on('error', (err) => this.#logger.warn({ err, pid: child.pid }, 'game process error'));
      // The game lives outside the agent's lifetime: an agent stop, restart or upgrade must
      // not wait for it (nor take it down). Unref'd, the child handle no longer keeps node's
      // event loop alive; while the agent runs, its exit is still reported. No pipes are
      // open to it (stdio is the log file), and it runs in its own process group/session.
      child.unref();
    } finally {
      // The child has its own copy of the descriptor.
      await out.close();
    }
    startTime = this.#platform.processStartTime(pid);

    // "<pid> <start time>": the next agent adopts the game from this file, and the start
    // time tells a reused pid (after a crash or a power loss) from the game ("-": unknown).
    const record = `${pid} ${startTime ?? '-'}\n`;
    await writeFile(pidFile, record);
    const watch = new AbortController();
    let gone = false;
    void exit.promise.then(async () => {
      gone = true;
      watch.abort();
      // Only our own record: a later spawn of the same server may have replaced it.
      if ((await readFile(pidFile, 'utf8').catch(() => '')) === record) await unlink(pidFile).catch(() => undefined);
    });
    void this.#watchLog(log, watch.signal);
    this.#logger.info({ pid, command: start.command, log }, 'game process spawned');
    return {
      pid,
      startedAt: this.#clock.now(),
      adopted: false,
      origin: 'spawned',
      exited: exit.promise,
      isAlive: () => !gone && this.#platform.isAlive(pid),
      release: () => watch.abort(),
    };
  }

  /**
   * Windows under the service wrapper: the game is not our child (so node's exit cannot
   * end it), hence no exit event and no exit code; it is watched by pid like an adopted one.
   */
  async #launchDetached(server: ResolvedServer, launch: NonNullable<Platform['launchGame']>, env: Record<string, string>, log: string, pidFile: string): Promise<ProcessHandle> {
    const start = server.start!;
    const game = await launch({ command: start.command, args: start.args, cwd: start.cwd ?? process.cwd(), log, env }).catch((err: unknown) => {
      throw new ReconSyncError('INTERNAL', `cannot start ${server.id}: ${errorMessage(err)}`, { cause: err });
    });
    const record = `${game.pid} ${game.startTime}\n`;
    await writeFile(pidFile, record);
    const handle = this.#watchAdopted(game.pid, 'spawned', false);
    const watch = new AbortController();
    void handle.exited.then(async () => {
      watch.abort();
      if ((await readFile(pidFile, 'utf8').catch(() => '')) === record) await unlink(pidFile).catch(() => undefined);
    });
    void this.#watchLog(log, watch.signal);
    this.#logger.info({ pid: game.pid, command: start.command, log }, 'game process launched through the service wrapper');
    return { ...handle, release: () => { handle.release(); watch.abort(); } };
  }

  /**
   * Order: the configured pid file, our own pid file from an earlier agent run,
   * then the process name. A managed server may later be stopped or killed by
   * us, so for it a name search never guesses: generic runtimes (java, wine...)
   * from the profile are skipped unless adopt.processName names them, and
   * several matches adopt nothing (set adopt.pidFile). A watched server takes
   * the first match: we only ever look at it.
   */
  async adopt(server: ResolvedServer): Promise<ProcessHandle | null> {
    const cfg = server.config.adopt;
    const explicit = cfg?.processName ? [cfg.processName] : null;
    const known = explicit ?? server.processNames;
    const names = explicit ?? (server.managed ? known.filter((n) => !genericRuntimes.has(n.toLowerCase())) : known);

    if (cfg?.pidFile) {
      const pid = await this.#platform.readPidFile(cfg.pidFile);
      if (pid !== null && this.#platform.isAlive(pid)) return this.#watchAdopted(pid, `pid file ${cfg.pidFile}`);
    }

    // Our own pid file from an earlier agent run. The pid may have been reused
    // by something else since, so it must have the recorded start time (where the
    // platform knows one) and also look like the game.
    const own = launcherPaths(this.#dataDir, server.id).pidFile;
    const ownPid = await this.#platform.readPidFile(own).catch(() => null);
    if (ownPid !== null && this.#platform.isAlive(ownPid) && (await this.#sameStart(own, ownPid))) {
      // A .bat start on Windows recorded cmd.exe's pid (the script runs in it).
      const runner = server.start && this.#platform.os === 'windows' && isBatchFile(server.start.command) ? ['cmd.exe'] : [];
      const expected = [...known, ...(server.start ? [this.#platform.path.basename(server.start.command)] : []), ...runner];
      const found = await this.#platform.findProcessByName(expected);
      if (found.some((p) => p.pid === ownPid)) return this.#watchAdopted(ownPid, `pid file ${own}`);
    }

    if (names.length === 0) return null;
    const found = await this.#platform.findProcessByName(names);
    const first = found[0];
    if (!first) return null;
    const pair = launcherPair(found, names);
    if (pair) return this.#watchAdopted(pair.pid, `process name ${pair.name}`);
    if (found.length > 1) {
      const pids = found.map((p) => p.pid);
      if (server.managed) {
        this.#logger.warn({ pids, names }, 'several processes match the game; adopting none. Set adopt.pidFile to pick one');
        return null;
      }
      this.#logger.warn({ pids, names }, 'several processes match; watching the first. Set adopt.pidFile to pick one');
    }
    return this.#watchAdopted(first.pid, `process name ${first.name}`);
  }

  /** False when the pid file recorded a start time and the process with that pid started at another time. */
  async #sameStart(file: string, pid: number): Promise<boolean> {
    const recorded = (await readFile(file, 'utf8').catch(() => '')).trim().split(/\s+/)[1];
    const now = this.#platform.processStartTime(pid);
    if (recorded === undefined || recorded === '-' || now === null || recorded === now) return true;
    this.#logger.info({ pid, file }, 'the pid in our pid file now belongs to another process; not adopting it');
    return false;
  }

  #watchAdopted(pid: number, origin: string, adopted = true): ProcessHandle {
    const watch = new AbortController();
    const exit = deferred<ExitInfo>();
    let gone = false;
    const poll = async () => {
      while (!watch.signal.aborted) {
        if (!this.#platform.isAlive(pid)) {
          gone = true;
          exit.resolve({ code: null, signal: null });
          return;
        }
        await this.#clock.sleep(this.#adoptPollMs, watch.signal).catch(() => undefined);
      }
    };
    void poll();
    if (adopted) this.#logger.info({ pid, origin }, 'adopted running game process');
    return {
      pid,
      startedAt: this.#clock.now(),
      adopted,
      origin,
      exited: exit.promise,
      isAlive: () => !gone && this.#platform.isAlive(pid),
      release: () => watch.abort(),
    };
  }

  async #watchLog(log: string, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.#clock.sleep(this.#logCheckMs, signal);
        if (await rotateIfLarge(log, this.#rotation, 'copytruncate')) this.#logger.debug({ log }, 'game log rotated');
      } catch (err) {
        if (signal.aborted) return;
        this.#logger.warn({ err, log }, 'game log rotation failed');
      }
    }
  }
}

/**
 * Palworld and Satisfactory on Windows run as a launcher (PalServer.exe) and its
 * console child (PalServer-Win64-Shipping-Cmd.exe), both in the profile's names:
 * one match per name, several names, is one game. The launcher (listed first) is
 * adopted; a taskkill /T or a Ctrl+C to its console reaches the child too. The
 * same name twice means two games, and nothing is guessed.
 */
function launcherPair(found: readonly ProcessMatch[], names: readonly string[]): ProcessMatch | null {
  if (found.length < 2) return null;
  const byName = new Map<string, ProcessMatch>();
  for (const p of found) {
    const key = p.name.toLowerCase();
    if (byName.has(key)) return null;
    byName.set(key, p);
  }
  for (const n of names) {
    const hit = byName.get(n.toLowerCase());
    if (hit) return hit;
  }
  return null;
}

/** Values from the server's config that must never be printed: the admin password and secret-named env values. */
export function serverSecrets(server: ResolvedServer): string[] {
  const env = Object.entries(server.start?.env ?? {}).filter(([k]) => isSecretName(k)).map(([, v]) => v);
  return [server.admin.password ?? '', server.config.rcon?.password ?? '', ...env].filter((v) => v !== '');
}

/** Promise.withResolvers is Node 22+; we run on 20. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => { resolve = r; });
  return { promise, resolve };
}
