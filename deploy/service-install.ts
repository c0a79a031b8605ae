import { spawn } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { mkdir, rm, writeFile, access } from 'node:fs/promises';
import path from 'node:path';
import { DefaultAgentUnitOptions, renderAgentUnit, renderShutdownUnit, shutdownUnitName } from './systemd-unit.ts';
import type { AgentConfig } from '../agent/config.ts';

/**
 * `reconsync agent service install|uninstall|status`. Linux: writes the systemd
 * unit (deploy/systemd-unit.ts) and runs systemctl. Windows: runs the PowerShell
 * installer shipped in the bundle (deploy/windows/install-agent.ps1), which owns
 * the service wrapper, its XML config and the recovery actions, so there is one
 * Windows implementation whether an operator runs the script or the CLI.
 *
 * Every effect is a step in a plan: dryRun returns the plan untouched, tests
 * assert it exactly, and the real run executes it with the injected runner.
 */

export type ServicePlatform = 'linux' | 'windows';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one program without a shell. Must resolve (not reject) on a non-zero exit. */
export type CommandRunner = (command: string, args: readonly string[]) => Promise<CommandResult>;

export type ServiceStep =
  | { kind: 'write'; path: string; content: string; mode: number }
  | { kind: 'remove'; path: string }
  | { kind: 'run'; command: string; args: string[]; /** Exit codes that count as success. */ okCodes: number[] };

export interface ServiceOptions {
  platform: ServicePlatform;
  /** agent.yaml; relative paths resolve against `cwd`. */
  configPath: string;
  /** The unpacked bundle (holds reconsync.js and deploy/). */
  bundleDir: string;
  dryRun?: boolean;
  run?: CommandRunner;
  /** Script node runs; default <bundleDir>/reconsync.js (a source checkout passes bin/reconsync.js). */
  entry?: string;
  /** Linux unit name without ".service" / Windows service name. */
  serviceName?: string;
  /** Linux: account the agent runs as; the default one is created when missing. */
  user?: string;
  /** Linux: agent.yaml's dataDir (absolute). */
  dataDir?: string;
  /** Linux: game install/save folders the sandbox must leave writable (see agentWritablePaths). */
  writablePaths?: string[];
  /** Linux: where unit files go. */
  unitDir?: string;
  /** Linux: KEY=value secrets file. */
  envFile?: string;
  /** Windows: log folder of the service wrapper. */
  logDir?: string;
  /** Windows: node.exe to run (default: the one on PATH, resolved by the installer). */
  nodePath?: string;
  /**
   * Windows: the account the service and its games run as. Default: the service's
   * virtual account, NT SERVICE\<name> (never LocalSystem unless asked for).
   */
  account?: string;
  /** Windows: %SystemRoot%, whose System32 holds powershell.exe and sc.exe (run by full path). */
  systemRoot?: string;
  cwd?: string;
}

export const DefaultServiceOptions = {
  linuxServiceName: 'reconsync-agent',
  windowsServiceName: 'ReconSyncAgent',
  user: DefaultAgentUnitOptions.user,
  unitDir: '/etc/systemd/system',
  envFile: DefaultAgentUnitOptions.envFile,
  dataDir: DefaultAgentUnitOptions.dataDir,
  systemRoot: 'C:\\Windows',
} as const;

export interface ServicePlan {
  platform: ServicePlatform;
  serviceName: string;
  steps: ServiceStep[];
  dryRun: boolean;
}

export interface ServiceStatus {
  platform: ServicePlatform;
  serviceName: string;
  installed: boolean;
  /** Starts at boot (Linux: enabled; Windows: start type auto). */
  enabled: boolean;
  running: boolean;
  /** systemctl / sc.exe answer, for humans. */
  detail: string;
}

export class ServiceCommandError extends Error {
  readonly code = 'SERVICE_COMMAND_FAILED';
  readonly step: ServiceStep;
  readonly result: CommandResult;
  constructor(step: Extract<ServiceStep, { kind: 'run' }>, result: CommandResult) {
    const out = (result.stderr || result.stdout).trim().split('\n').slice(-5).join('\n');
    super(`"${[step.command, ...step.args].join(' ')}" exited with ${result.code}${out ? `:\n${out}` : ''}\nRun it by hand (as root / Administrator) to see the full output.`);
    this.name = 'ServiceCommandError';
    this.step = step;
    this.result = result;
  }
}

/** The default runner: spawn without a shell; a missing program is exit 127. */
export const spawnRunner: CommandRunner = (command, args) =>
  new Promise((resolve) => {
    const child = spawn(command, [...args], { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', (err: NodeJS.ErrnoException) => resolve({ code: err.code === 'ENOENT' ? 127 : 126, stdout, stderr: stderr || err.message }));
    child.once('close', (code) => resolve({ code: code ?? 128, stdout, stderr }));
  });

/** The folders of agent.yaml the agent writes: dataDir, install dirs, save dirs, start cwd, path destinations. */
export function agentWritablePaths(cfg: AgentConfig, extraSavePaths: string[] = []): string[] {
  const out = new Set<string>([cfg.dataDir]);
  for (const s of cfg.servers) {
    for (const p of [s.installDir, s.saveDir, s.start?.cwd]) if (p) out.add(p);
    for (const d of s.backup.destinations) {
      // A restic repository that is a folder is written by the agent's restic too.
      const dir = typeof d === 'string' ? d : d.restic;
      if (path.isAbsolute(dir)) out.add(dir);
    }
  }
  for (const p of extraSavePaths) out.add(p);
  return [...out];
}

/**
 * Where the running program lives, for `bundleDir` and `entry`: the bundle's
 * folder (reconsync.js sits next to deploy/), or a source checkout (bin/reconsync.js,
 * deploy/ one level up). `scriptPath` is process.argv[1]; symlinks are resolved.
 */
export function resolveProgramLocation(scriptPath: string = process.argv[1] ?? ''): { bundleDir: string; entry: string } {
  const entry = realpathSync(scriptPath);
  const here = path.dirname(entry);
  const bundleDir = [here, path.dirname(here)].find((d) => existsSync(path.join(d, 'deploy', 'windows', 'install-agent.ps1'))) ?? here;
  return { bundleDir, entry };
}

function names(opts: ServiceOptions): { name: string; pathImpl: path.PlatformPath } {
  const pathImpl = opts.platform === 'windows' ? path.win32 : path.posix;
  const name = opts.serviceName ?? (opts.platform === 'windows' ? DefaultServiceOptions.windowsServiceName : DefaultServiceOptions.linuxServiceName);
  if (!/^[A-Za-z0-9_.@-]+$/.test(name)) throw new Error(`service name "${name}" may only use letters, digits, "_", ".", "@" and "-"`);
  return { name, pathImpl };
}

function abs(p: string, opts: ServiceOptions, pathImpl: path.PlatformPath): string {
  const cwd = opts.cwd ?? process.cwd();
  const full = pathImpl.isAbsolute(p) ? pathImpl.normalize(p) : pathImpl.resolve(cwd, p);
  // No trailing separator (except a root): `C:\dir\"` would escape the closing quote on a Windows command line.
  return full.length > pathImpl.parse(full).root.length ? full.replace(/[\\/]+$/, '') : full;
}

function run(command: string, args: string[], okCodes: number[] = [0]): ServiceStep {
  return { kind: 'run', command, args, okCodes };
}

/**
 * A Windows system program by full path. A bare name is looked up in the current folder before
 * PATH (libuv, like CreateProcess and cmd.exe), and these run elevated from wherever the operator
 * stands: a powershell.exe or sc.exe left in that folder would run instead.
 */
function systemProgram(opts: Pick<ServiceOptions, 'systemRoot'>, ...rel: string[]): string {
  return path.win32.join(opts.systemRoot || DefaultServiceOptions.systemRoot, 'System32', ...rel);
}

function powershellScript(opts: ServiceOptions, pathImpl: path.PlatformPath, script: string, args: string[]): ServiceStep {
  const file = pathImpl.join(abs(opts.bundleDir, opts, pathImpl), 'deploy', 'windows', script);
  return run(systemProgram(opts, 'WindowsPowerShell', 'v1.0', 'powershell.exe'), ['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-File', file, ...args]);
}

/** The Windows service's virtual account: its own identity, no password, only the rights the installer grants. */
export function windowsServiceAccount(serviceName: string): string {
  return `NT SERVICE\\${serviceName}`;
}

export function planInstall(opts: ServiceOptions): ServicePlan {
  const { name, pathImpl } = names(opts);
  const bundleDir = abs(opts.bundleDir, opts, pathImpl);
  const configPath = abs(opts.configPath, opts, pathImpl);
  const entry = abs(opts.entry ?? pathImpl.join(bundleDir, 'reconsync.js'), opts, pathImpl);
  const steps: ServiceStep[] = [];
  if (opts.platform === 'linux') {
    const user = opts.user ?? DefaultServiceOptions.user;
    if (user === DefaultServiceOptions.user) {
      // useradd exits 9 when the account already exists: installing twice is fine.
      steps.push(run('useradd', ['--system', '--user-group', '--home-dir', '/var/lib/reconsync', '--no-create-home', '--shell', '/usr/sbin/nologin', user], [0, 9]));
    }
    const dataDir = abs(opts.dataDir ?? DefaultServiceOptions.dataDir, opts, pathImpl);
    const unitOptions = {
      entry,
      configPath,
      user,
      group: user,
      envFile: opts.envFile ?? DefaultServiceOptions.envFile,
      dataDir,
      writablePaths: (opts.writablePaths ?? []).map((p) => abs(p, opts, pathImpl)),
      serviceName: name,
    };
    const unit = renderAgentUnit(unitOptions);
    const hook = shutdownUnitName(name);
    const unitDir = opts.unitDir ?? DefaultServiceOptions.unitDir;
    if (!dataDir.startsWith('/var/lib/')) {
      // Outside /var/lib there is no StateDirectory= to create it: make it, owned by the service user.
      steps.push(run('install', ['-d', '-o', user, '-g', user, '-m', '0750', dataDir]));
    }
    steps.push({ kind: 'write', path: pathImpl.join(unitDir, `${name}.service`), content: unit, mode: 0o644 });
    steps.push({ kind: 'write', path: pathImpl.join(unitDir, hook), content: renderShutdownUnit(unitOptions), mode: 0o644 });
    steps.push(run('systemctl', ['daemon-reload']));
    steps.push(run('systemctl', ['enable', `${name}.service`, hook]));
    // Only started, never restarted: stopping the shutdown hook stops every game. Starting it does nothing but arm it.
    steps.push(run('systemctl', ['start', hook]));
    // enable --now on an already running unit does not restart it: restart so a new unit takes effect.
    // Restarting the agent leaves its games running; the new agent adopts them.
    steps.push(run('systemctl', ['restart', `${name}.service`]));
  } else {
    // A dedicated account, not LocalSystem: the games it starts must not run as SYSTEM.
    const account = opts.account ?? windowsServiceAccount(name);
    const writable = (opts.writablePaths ?? []).map((p) => abs(p, opts, pathImpl));
    // One argument, ';'-separated: powershell -File cannot pass an array.
    const unsplittable = writable.find((p) => p.includes(';'));
    if (unsplittable !== undefined) throw new Error(`the folder "${unsplittable}" contains ";", which the Windows installer uses to separate folders; rename it`);
    const args = ['-ServiceName', name, '-BundleDir', bundleDir, '-ConfigPath', configPath, '-Entry', entry, '-Account', account];
    if (writable.length) args.push('-WritablePaths', [...new Set(writable)].join(';'));
    if (opts.logDir) args.push('-LogDir', abs(opts.logDir, opts, pathImpl));
    if (opts.nodePath) args.push('-NodePath', abs(opts.nodePath, opts, pathImpl));
    steps.push(powershellScript(opts, pathImpl, 'install-agent.ps1', args));
  }
  return { platform: opts.platform, serviceName: name, steps, dryRun: opts.dryRun === true };
}

export function planUninstall(opts: ServiceOptions): ServicePlan {
  const { name, pathImpl } = names(opts);
  const steps: ServiceStep[] = [];
  if (opts.platform === 'linux') {
    const hook = shutdownUnitName(name);
    const unitDir = opts.unitDir ?? DefaultServiceOptions.unitDir;
    // disable --now: exit 0 even when the unit is already stopped; 1 when it does not exist (nothing to undo).
    // The agent stops; its games keep running, as with any agent stop.
    steps.push(run('systemctl', ['disable', '--now', `${name}.service`], [0, 1, 5]));
    // Not --now: stopping the shutdown hook would stop every game; uninstalling leaves games running, as every agent stop does.
    steps.push(run('systemctl', ['disable', hook], [0, 1, 5]));
    steps.push({ kind: 'remove', path: pathImpl.join(unitDir, `${name}.service`) });
    steps.push({ kind: 'remove', path: pathImpl.join(unitDir, hook) });
    steps.push(run('systemctl', ['daemon-reload']));
    steps.push(run('systemctl', ['reset-failed', `${name}.service`], [0, 1, 5]));
  } else {
    steps.push(powershellScript(opts, pathImpl, 'uninstall-agent.ps1', ['-ServiceName', name]));
  }
  return { platform: opts.platform, serviceName: name, steps, dryRun: opts.dryRun === true };
}

async function execute(plan: ServicePlan, runner: CommandRunner): Promise<void> {
  for (const step of plan.steps) {
    if (step.kind === 'write') {
      await mkdir(path.dirname(step.path), { recursive: true });
      await writeFile(step.path, step.content, { mode: step.mode });
    } else if (step.kind === 'remove') {
      await rm(step.path, { force: true });
    } else {
      const result = await runner(step.command, step.args);
      if (!step.okCodes.includes(result.code)) throw new ServiceCommandError(step, result);
    }
  }
}

export async function installAgentService(opts: ServiceOptions): Promise<ServicePlan> {
  const plan = planInstall(opts);
  if (!plan.dryRun) await execute(plan, opts.run ?? spawnRunner);
  return plan;
}

export async function uninstallAgentService(opts: ServiceOptions): Promise<ServicePlan> {
  const plan = planUninstall(opts);
  if (!plan.dryRun) await execute(plan, opts.run ?? spawnRunner);
  return plan;
}

/** Asks systemctl or sc.exe; never throws for "not installed". */
export async function agentServiceStatus(opts: Omit<ServiceOptions, 'configPath' | 'bundleDir' | 'dryRun'> & Partial<Pick<ServiceOptions, 'configPath' | 'bundleDir'>>): Promise<ServiceStatus> {
  const runner = opts.run ?? spawnRunner;
  const { name } = names({ configPath: '', bundleDir: '', ...opts });
  if (opts.platform === 'linux') {
    const unitFile = path.posix.join(opts.unitDir ?? DefaultServiceOptions.unitDir, `${name}.service`);
    const enabled = await runner('systemctl', ['is-enabled', `${name}.service`]);
    const active = await runner('systemctl', ['is-active', `${name}.service`]);
    const fileExists = await access(unitFile).then(() => true, () => false);
    const enabledWord = enabled.stdout.trim();
    const activeWord = active.stdout.trim();
    return {
      platform: 'linux',
      serviceName: name,
      installed: fileExists || (enabledWord !== '' && enabledWord !== 'not-found'),
      enabled: enabled.code === 0 && enabledWord === 'enabled',
      running: active.code === 0 && activeWord === 'active',
      detail: `${name}.service: ${activeWord || 'unknown'}, ${enabledWord || 'not-found'}`,
    };
  }
  const sc = systemProgram(opts, 'sc.exe');
  const query = await runner(sc, ['query', name]);
  // 1060 = ERROR_SERVICE_DOES_NOT_EXIST
  if (query.code !== 0) {
    return { platform: 'windows', serviceName: name, installed: false, enabled: false, running: false, detail: query.code === 1060 ? `${name}: not installed` : (query.stdout || query.stderr).trim() };
  }
  const config = await runner(sc, ['qc', name]);
  const state = /STATE\s*:\s*\d+\s+(\w+)/.exec(query.stdout)?.[1] ?? 'UNKNOWN';
  const startType = /START_TYPE\s*:\s*\d+\s+(\w+)/.exec(config.stdout)?.[1] ?? 'UNKNOWN';
  return {
    platform: 'windows',
    serviceName: name,
    installed: true,
    enabled: startType === 'AUTO_START',
    running: state === 'RUNNING',
    detail: `${name}: ${state}, ${startType}`,
  };
}
