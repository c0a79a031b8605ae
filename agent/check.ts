import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { Cron } from 'croner';
import { deepFreeze, resolveFrom, type LoadOptions } from '../lib/config-file.ts';
import { checkYamlFile, throwIfProblems } from '../lib/config-validate.ts';
import { safeParse } from '../protocol/safe-parse.ts';
import { didYouMean } from '../lib/suggest.ts';
import { redactSecrets } from '../lib/rclone-redact.ts';
import { AgentConfigSchema, destinationKind, remoteName, resolveAgentPaths, resolveServerPaths, ServerConfigSchema, type AgentConfig } from './config.ts';
import { gamedigTypeProblems } from '../games/gamedig-check.ts';
import { hostOs, loadProfilesForCheck, resolveOne, serverKey, unknownGameProblem, type AgentPlatformOs } from './resolve-servers.ts';
import type { ResolvedServer } from './types.ts';
import { serviceProfileSaveProblems } from './platform/service-profile.ts';
import { errorMessage } from '../lib/error-message.ts';
import { loadExeca } from '../lib/execa-lazy.ts';

/**
 * Everything the agent checks before it starts, in one place: `reconsync
 * config check` and `reconsync agent` both call checkAgentConfig, so what the
 * check passes the agent can run, and what the agent would refuse the check
 * reports. Every problem is collected before anything is thrown, so one run
 * shows them all (schema, game ids, cron, paths, destinations, rclone).
 */

export interface AgentCheckOptions extends LoadOptions {
  platform?: AgentPlatformOs;
  /** Per rclone call (listremotes); a hung rclone must not hang the check. */
  rcloneTimeoutMs?: number;
}

export const DefaultAgentCheckOptions = { rcloneTimeoutMs: 15_000 } as const satisfies AgentCheckOptions;

export interface CheckedAgent {
  config: AgentConfig;
  servers: ResolvedServer[];
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** A remote destination found in the config, for the rclone checks. */
interface RemoteUse {
  key: string;
  target: string;
}

export async function checkAgentConfig(file: string, opts: AgentCheckOptions = {}): Promise<CheckedAgent> {
  const platform = opts.platform ?? hostOs();
  const checked = checkYamlFile(file, AgentConfigSchema, opts);
  const problems = [...checked.problems];
  if (checked.raw === undefined) throwIfProblems(checked.abs, problems);
  const raw = obj(checked.raw);
  const r = (p: string) => resolveFrom(checked.configDir, p);

  const gamesDir = str(raw.gamesDir);
  const profiles = loadProfilesForCheck(gamesDir === undefined ? undefined : r(gamesDir), problems);
  const rcloneCfg = obj(raw.rclone);
  const remotes: RemoteUse[] = [];
  const resolved: ResolvedServer[] = [];
  const seen = new Set<string>();

  const rawServers = Array.isArray(raw.servers) ? raw.servers : [];
  rawServers.forEach((item, i) => {
    const s = obj(item);
    const id = str(s.id) ?? String(i);
    const key = serverKey(id);
    if (seen.has(id)) problems.push(`${key}.id: duplicate server id "${id}"`);
    seen.add(id);
    const game = str(s.game);
    if (game !== undefined) {
      const unknown = unknownGameProblem(id, game, profiles);
      if (unknown) problems.push(unknown);
    }
    const backup = obj(s.backup);
    problems.push(...scheduleProblems(key, str(backup.schedule), str(backup.timezone)));
    const restart = obj(s.restart);
    problems.push(...scheduleProblems(key, str(restart.schedule), str(restart.timezone), 'restart'));
    if (str(restart.schedule) !== undefined && s.start === undefined) problems.push(`${key}.restart.schedule: only a managed server (one with start:) can be restarted; add start: or remove the schedule`);
    const destinations = Array.isArray(backup.destinations) ? backup.destinations : [];
    destinations.forEach((d, j) => {
      if (typeof d !== 'string' || d === '') return;
      const dKey = `${key}.backup.destinations[${j}]`;
      const kind = destinationKind(d);
      if (kind === 'remote') remotes.push({ key: dKey, target: d });
      if (kind === 'path') {
        const problem = writableDirProblem(dKey, r(d));
        if (problem) problems.push(problem);
      }
    });
    // The profile join needs a server that passed the schema and a known game.
    const parsed = safeParse(ServerConfigSchema, item);
    if (parsed.success && profiles.has(parsed.data.game)) {
      const one = resolveOne(resolveServerPaths(parsed.data, checked.configDir), profiles, platform);
      problems.push(...one.problems);
      if (one.server) problems.push(...serviceProfileSaveProblems(key, one.server, platform));
      if (one.server) problems.push(...updateProblems(key, one.server));
      if (one.server) resolved.push(one.server);
    }
  });

  for (const server of resolved) problems.push(...await gamedigTypeProblems(server.profile, `${serverKey(server.id)}.query.gamedigType`));

  const dataDirProblem = writableDirProblem('dataDir', r(str(raw.dataDir) ?? './agent-data'));
  if (dataDirProblem) problems.push(dataDirProblem);
  const ca = str(obj(raw.hub).ca);
  if (ca !== undefined) problems.push(...readableFileProblem('hub.ca', r(ca)));
  const rcloneConfig = str(rcloneCfg.config);
  if (rcloneConfig !== undefined) problems.push(...readableFileProblem('rclone.config', r(rcloneConfig)));
  if (remotes.length) {
    problems.push(...await rcloneProblems(remotes, {
      binary: str(rcloneCfg.binary) ?? 'rclone',
      config: rcloneConfig === undefined ? undefined : r(rcloneConfig),
      timeoutMs: opts.rcloneTimeoutMs ?? DefaultAgentCheckOptions.rcloneTimeoutMs,
    }));
  }

  // SteamCMD: needed by servers with `update:`; a configured path must work even before one is added.
  const steamPath = str(obj(raw.steamcmd).path);
  const updaters = rawServers.filter((item) => obj(item).update !== undefined).map((item, i) => serverKey(str(obj(item).id) ?? String(i)));
  if (steamPath !== undefined || updaters.length) {
    const program = steamPath === undefined ? undefined : /[\\/]/.test(steamPath) ? r(steamPath) : steamPath;
    const found = program === undefined ? defaultSteamCmd(platform) : programProblem(program) === undefined;
    if (!found) {
      const why = updaters.length ? `needed by ${updaters.map((k) => `${k}.update`).join(', ')}` : 'set in steamcmd.path';
      problems.push(`steamcmd.path: ${program === undefined ? 'steamcmd (or steamcmd.sh) is not on PATH' : `"${program}" ${programProblem(program)}`}, ${why}; install SteamCMD (https://developer.valvesoftware.com/wiki/SteamCMD) or set steamcmd.path`);
    }
  }

  // restic: needed by servers with a `{ restic, password }` destination (design.md §10).
  const resticUsers = rawServers.filter((item) => (Array.isArray(obj(obj(item).backup).destinations) ? obj(obj(item).backup).destinations as unknown[] : []).some((d) => typeof d === 'object' && d !== null))
    .map((item, i) => serverKey(str(obj(item).id) ?? String(i)));
  if (resticUsers.length) {
    const resticPath = str(obj(raw.restic).path) ?? 'restic';
    const program = /[\\/]/.test(resticPath) ? r(resticPath) : resticPath;
    const problem = programProblem(program);
    const check = str(obj(raw.restic).check);
    if (check !== undefined) {
      try {
        new Cron(check, { paused: true }).nextRun();
      } catch (err) {
        problems.push(`restic.check: "${check}" is not a cron expression (${errorMessage(err).replace(/^CronPattern: /, '').split('\n')[0]!.replace(/\.$/, '')}); e.g. "0 4 * * 0" for Sundays at 04:00`);
      }
    }
    if (problem !== undefined) problems.push(`restic.path: "${program}" ${problem}, needed by ${resticUsers.map((k) => `${k}.backup.destinations`).join(', ')}; install restic (apt install restic, or https://restic.net) or set restic.path`);
  }

  throwIfProblems(checked.abs, problems);
  // No problems means the schema passed (its failures are problems).
  const config = resolveAgentPaths(deepFreeze({ ...checked.data!, configDir: checked.configDir, configFile: checked.abs }) as AgentConfig);
  return { config, servers: resolved };
}

/** croner is what the scheduler runs, so it is what decides; a timezone is checked the same way. */
/** `update:` needs a Steam game and a valid check schedule (the updater refuses both at start). */
function updateProblems(key: string, server: ResolvedServer): string[] {
  const update = server.config.update;
  if (!update) return [];
  const problems: string[] = [];
  if (server.profile.steam === undefined) problems.push(`${key}.update: game ${server.profile.id} is not installed through Steam (its profile has no steam.appId); remove update: and update it by hand`);
  try {
    new Cron(update.check, { paused: true }).nextRun();
  } catch (err) {
    problems.push(`${key}.update.check: "${update.check}" is not a cron expression (croner syntax, e.g. "*/30 * * * *"): ${errorMessage(err)}`);
  }
  return problems;
}

function scheduleProblems(key: string, schedule: string | undefined, timezone: string | undefined, section: 'backup' | 'restart' = 'backup'): string[] {
  const problems: string[] = [];
  if (timezone !== undefined) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: timezone });
    } catch {
      problems.push(`${key}.${section}.timezone: "${timezone}" is not an IANA time zone (e.g. "Europe/Berlin", "UTC")`);
      timezone = undefined;
    }
  }
  if (schedule === undefined) return problems;
  try {
    new Cron(schedule, { paused: true, ...(timezone ? { timezone } : {}) }).nextRun();
  } catch (err) {
    const why = errorMessage(err).replace(/^CronPattern: /, '').split('\n')[0]!.replace(/\.$/, '');
    problems.push(`${key}.${section}.schedule: "${schedule}" is not a cron expression (${why}); e.g. ${section === 'backup' ? '"0 */4 * * *" for every 4 hours' : '"0 5 * * *" for 05:00 daily'}`);
  }
  return problems;
}

/** A folder the agent writes into: it exists as a writable folder, or it can be created (its nearest existing parent is a writable folder). */
function writableDirProblem(key: string, dir: string): string | undefined {
  let at = dir;
  for (;;) {
    let st;
    try {
      st = statSync(at);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return `${key}: cannot use "${dir}" (${(err as NodeJS.ErrnoException).code})`;
      const parent = path.dirname(at);
      if (parent === at) return `${key}: "${dir}" cannot be created (no existing parent folder)`;
      at = parent;
      continue;
    }
    if (!st.isDirectory()) return `${key}: "${at}" is not a folder${at === dir ? '' : `, so "${dir}" cannot be created`}`;
    try {
      accessSync(at, constants.W_OK);
    } catch {
      return `${key}: "${at}" is not writable by this user${at === dir ? '' : `, so "${dir}" cannot be created`}`;
    }
    return undefined;
  }
}

/** Why a program cannot be run: a path must be an executable file, a bare name must be on PATH. */
function programProblem(program: string): string | undefined {
  const candidates = /[\\/]/.test(program) ? [program] : (process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((d) => path.join(d, program));
  for (const c of candidates) {
    try {
      if (statSync(c).isFile()) {
        accessSync(c, process.platform === 'win32' ? constants.R_OK : constants.X_OK);
        return undefined;
      }
    } catch {
      // not this one
    }
  }
  return /[\\/]/.test(program) ? 'does not exist or is not executable' : 'is not on PATH';
}

function defaultSteamCmd(platform: AgentPlatformOs): boolean {
  return (platform === 'windows' ? ['steamcmd.exe'] : ['steamcmd', 'steamcmd.sh']).some((n) => programProblem(n) === undefined);
}

function readableFileProblem(key: string, file: string): string[] {
  try {
    accessSync(file, constants.R_OK);
    return [];
  } catch (err) {
    return [`${key}: cannot read "${file}" (${(err as NodeJS.ErrnoException).code ?? 'error'})`];
  }
}

/** The rclone binary runs and every named remote is defined in its config. Only called when a remote destination exists. */
async function rcloneProblems(remotes: RemoteUse[], rclone: { binary: string; config: string | undefined; timeoutMs: number }): Promise<string[]> {
  const users = remotes.map((u) => `${u.key} (${redactSecrets(u.target)})`).join(', ');
  const args = [...(rclone.config ? ['--config', rclone.config] : []), 'listremotes'];
  let r;
  try {
    const execa = await loadExeca();
    r = await execa(rclone.binary, args, { reject: false, timeout: rclone.timeoutMs, stdin: 'ignore' });
  } catch (err) {
    return [`rclone.binary: cannot run "${rclone.binary}" (${errorMessage(err)}), needed by ${users}`];
  }
  if ((r as unknown as { code?: string }).code === 'ENOENT') {
    return [`rclone.binary: "${rclone.binary}" not found, needed by ${users}; install rclone (https://rclone.org/install/) or set rclone.binary. A folder destination (an absolute path) needs no rclone`];
  }
  if (r.exitCode !== 0) {
    const detail = redactSecrets(String(r.stderr ?? '')).trim().split('\n').slice(-2).join(' | ').slice(0, 500);
    return [`rclone.binary: "${rclone.binary} listremotes" failed (${r.timedOut ? 'timed out' : `exit ${r.exitCode ?? '?'}`}): ${detail || 'no error output'}`];
  }
  const defined = new Set(String(r.stdout).split('\n').map((l) => l.trim().replace(/:$/, '')).filter(Boolean));
  const where = rclone.config ? `rclone.config ${rclone.config}` : "rclone's default config (rclone config file)";
  return remotes.flatMap((u) => {
    const name = remoteName(u.target);
    if (name === undefined || defined.has(name)) return [];
    return [`${u.key}: rclone remote "${name}" is not defined in ${where}${didYouMean(name, defined)}; define it with \`rclone config${rclone.config ? ` --config ${rclone.config}` : ''}\` or fix the name`];
  });
}
