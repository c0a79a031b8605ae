// Handle on the SteamCMD stand-in (steamcmd.mjs) for tests: its control file,
// its Steam folder, the PATH that puts `steamcmd` first, and its call log.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const standInBin = path.join(import.meta.dirname, 'bin');
export const standInProgram = path.join(standInBin, 'steamcmd');
/** The file in an install folder the simulated game reads its build from (see steamcmd.mjs). */
export const BUILD_MARKER = 'reconsync-sim-build.json';

export interface Branch { buildid: string; timeupdated?: number; pwd?: string }
export interface StandInApp { name?: string; sizeBytes?: number; branches: Record<string, Branch> }
export interface StandInFailure { op?: 'app_update' | 'app_info'; kind: '0x202' | '0x402' | '0x602' | 'nosub' | 'timeout' | 'hang'; touch?: boolean; atPercent?: number; afterInstall?: boolean }
export interface StandInControl {
  apps: Record<string, StandInApp>;
  builds?: Record<string, { crash?: boolean }>;
  staleAppInfo?: boolean;
  failures?: StandInFailure[];
}

export class SteamCmdStandIn {
  readonly home: string;
  readonly controlFile: string;

  constructor(readonly dir: string) {
    this.home = path.join(dir, 'steam-home');
    this.controlFile = path.join(dir, 'steamcmd-control.json');
  }

  /** Environment for a process (or this one) that runs the stand-in. */
  env(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
    return { ...base, STEAMCMD_SIM_HOME: this.home, STEAMCMD_SIM_CONTROL: this.controlFile, STEAMCMD_SIM_STEP_MS: '2', PATH: `${standInBin}${path.delimiter}${base.PATH ?? ''}` };
  }

  /** Points this process's environment at the stand-in (an in-process agent runs it from here). */
  install(): void {
    Object.assign(process.env, this.env());
  }

  get appCacheDir(): string {
    return path.join(this.home, 'appcache');
  }

  async write(control: StandInControl): Promise<void> {
    await writeFile(this.controlFile, JSON.stringify(control, null, 2));
  }

  async read(): Promise<StandInControl> {
    return JSON.parse(await readFile(this.controlFile, 'utf8')) as StandInControl;
  }

  async update(fn: (c: StandInControl) => void): Promise<void> {
    const c = await this.read();
    fn(c);
    await this.write(c);
  }

  /** Publishes a new build on a branch ("Steam got a patch"). */
  async publish(appId: number, buildid: string, branch = 'public', opts: { crash?: boolean } = {}): Promise<void> {
    await this.update((c) => {
      const app = (c.apps[String(appId)] ??= { branches: {} });
      app.branches[branch] = { ...app.branches[branch], buildid, timeupdated: Math.floor(Date.now() / 1000) };
      if (opts.crash) (c.builds ??= {})[buildid] = { crash: true };
    });
  }

  async fail(...failures: StandInFailure[]): Promise<void> {
    await this.update((c) => {
      (c.failures ??= []).push(...failures);
    });
  }

  /** Every run's argv, oldest first. */
  async calls(): Promise<string[][]> {
    return (await this.runs()).map((r) => r.argv);
  }

  /** Every run (argv and process id), oldest first. */
  async runs(): Promise<{ argv: string[]; pid: number }[]> {
    const text = await readFile(path.join(this.home, 'calls.jsonl'), 'utf8').catch(() => '');
    return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { argv: string[]; pid: number });
  }
}
