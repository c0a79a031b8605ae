import path from 'node:path';
import { ReconSyncError, type Clock, type ServerState, type UpdateLast, type UpdateStep } from '../../protocol/index.ts';
import type { Logger } from '../../lib/logger.ts';
import type { BackupEngine } from '../backup/engine.ts';
import { planSaves } from '../backup/walk.ts';
import type { Supervisor } from '../supervisor/index.ts';
import type { AdminChannel, ResolvedServer } from '../types.ts';
import { checkBuild } from './check.ts';
import { installBuild } from './install.ts';
import { keepPreviousBuild, restorePreviousBuild, savesInside, scanBuild, type FreeSpace } from './previous-build.ts';
import type { Journal, UpdateStateStore } from './state-store.ts';
import type { SteamCmd } from './steamcmd.ts';
import type { SteamTarget } from './target.ts';
import { errorMessage } from '../../lib/error-message.ts';

/** Everything one update run needs: passed in, not reached for (style.md "no service locators"). */
export interface PipelineContext {
  server: ResolvedServer;
  supervisor: Supervisor;
  admin: AdminChannel | null;
  engine: BackupEngine;
  steam: SteamCmd;
  target: SteamTarget;
  store: UpdateStateStore;
  clock: Clock;
  logger: Logger;
  freeSpace: FreeSpace;
  retries: number;
  retryDelayMs: number;
  /** How often the wait for an empty server looks at the player count. */
  pollMs: number;
  progress(step: UpdateStep, message: string, percent?: number | null): void;
}

export interface PipelineRequest {
  warnMinutes: readonly number[];
  actor: string;
  signal?: AbortSignal;
}

/** Room SteamCMD needs besides the kept copy: it stages a whole build before it swaps files. */
const STAGING_FACTOR = 1;
const HEADROOM_BYTES = 64 << 20;

const mib = (n: number) => `${(n / (1 << 20)).toFixed(0)} MiB`;

function outcomeOf(o: Omit<UpdateLast, 'at'>, clock: Clock): UpdateLast {
  return { ...o, message: o.message.slice(0, 2000), at: new Date(clock.now()).toISOString() };
}

/**
 * One game update, from the check to the health check (issue 11 §4). Every
 * way out is one of four outcomes; the server runs again at the end unless it
 * did not run before or an operator stopped it meanwhile (the supervisor's
 * resumeAfterJob decides; then nothing is health-checked or rolled back). The journal in the state store is written before each
 * step that changes the disk, so recover() can finish the job after a crash.
 */
export async function runUpdate(ctx: PipelineContext, req: PipelineRequest): Promise<UpdateLast> {
  const { server, supervisor, target, clock, logger } = ctx;
  ctx.progress('check', 'looking for the latest build');
  const check = await checkBuild(ctx.steam, { appId: target.appId, branch: target.branch, installDir: target.installDir, logger, ...(req.signal ? { signal: req.signal } : {}) });
  await ctx.store.patch(server.id, { installedBuild: check.installedBuild, latestBuild: check.latestBuild, checkedAt: new Date(clock.now()).toISOString() });
  const base = { from: check.installedBuild, to: check.latestBuild };
  if (!check.available) return outcomeOf({ ...base, outcome: 'up_to_date', step: 'check', message: `build ${check.latestBuild} is the latest on branch ${target.branch}` }, clock);

  const saves = savesInside(target.installDir, server.savePaths);
  const keep = target.update?.keepPreviousBuild ?? true;
  const previousDir = keep ? path.join(ctx.store.workDir(server.id), 'previous') : null;
  ctx.progress('space', 'checking free disk space');
  const before = await scanBuild(target.installDir, saves);
  const need = (keep ? before.bytes : 0) + before.bytes * STAGING_FACTOR + HEADROOM_BYTES;
  const free = await ctx.freeSpace(target.installDir);
  if (free < need) {
    return outcomeOf({ ...base, outcome: 'failed', step: 'space', message: `not enough free disk space: the update needs about ${mib(need)} (a copy of the ${mib(before.bytes)} build and room for the download), ${mib(free)} free; free some space, the server keeps running on build ${check.installedBuild ?? '?'}` }, clock);
  }

  const wasRunning = supervisor.state !== 'stopped';
  const release = supervisor.hold('game update');
  const journal: Journal = { from: check.installedBuild, to: check.latestBuild, step: 'warn', previousDir, backupId: null, newBuildStarted: false, wasRunning, actor: req.actor, startedAt: new Date(clock.now()).toISOString() };
  const step = async (s: UpdateStep, change: Partial<Journal> = {}) => {
    Object.assign(journal, change, { step: s });
    await ctx.store.patch(server.id, { journal: { ...journal } });
  };
  try {
    await step('warn');
    await warnPlayers(ctx, req, check.latestBuild);
    await step('wait-empty');
    await waitForEmpty(ctx, req);

    await step('stop');
    ctx.progress('stop', 'saving and stopping the server');
    if (supervisor.managed && wasRunning) await supervisor.stop({ reason: `update to build ${check.latestBuild}` });

    await step('backup');
    // A server that has no world yet (a fresh install) has nothing to lose: no backup, and nothing to restore on a rollback.
    let backupId: string | null = null;
    if ((await planSaves(server)).roots.length > 0) {
      ctx.progress('backup', 'backing up the world');
      const backup = await ctx.engine.createClaimed(server, null, null, { trigger: 'pre-update', note: `before update ${check.installedBuild ?? 'none'} → ${check.latestBuild}`, ...(req.signal ? { signal: req.signal } : {}) });
      backupId = backup.id;
    } else {
      ctx.progress('backup', 'no world files yet: nothing to back up');
    }
    await step('keep-previous', { backupId });
    if (previousDir) {
      ctx.progress('keep-previous', 'keeping a copy of the current build');
      await keepPreviousBuild(target.installDir, saves, previousDir, clock);
    }

    await step('download');
    const installed = await installBuild(ctx.steam, {
      appId: target.appId, installDir: target.installDir, branch: target.branch, validate: target.validate, logger,
      ...(target.betaPassword ? { betaPassword: target.betaPassword } : {}), ...(req.signal ? { signal: req.signal } : {}),
      retries: ctx.retries, retryDelayMs: ctx.retryDelayMs, clock, expectBuild: check.latestBuild,
      onProgress: (p) => ctx.progress('download', `${p.phase} build ${check.latestBuild}`, p.percent),
      onAttempt: (n, why) => ctx.progress('download', `${why}; attempt ${n}`),
    });
    if (!installed.ok) {
      // SteamCMD may have replaced some files before it failed: then the kept build goes back.
      const after = await scanBuild(target.installDir, saves);
      const touched = after.fingerprint !== before.fingerprint;
      if (touched && previousDir) await restorePreviousBuild(previousDir, target.installDir, saves);
      const left = await startAgain(ctx, wasRunning);
      await step('done');
      return outcomeOf({ ...base, outcome: 'failed', step: 'download', message: `${installed.message}; ${touched ? (previousDir ? 'the previous build was put back' : 'the install folder was changed and no copy was kept') : 'the install folder is unchanged'}; ${left ?? 'the server runs'} build ${check.installedBuild ?? '?'}` }, clock);
    }
    await ctx.store.patch(server.id, { installedBuild: installed.build });

    return await startNewBuild(ctx, journal, step, wasRunning, base, installed.build);
  } finally {
    release();
  }
}

type StepFn = (s: UpdateStep, change?: Partial<Journal>) => Promise<void>;

/** Start on the new build and wait for the status query; roll back when it does not come up. */
export async function startNewBuild(ctx: PipelineContext, journal: Journal, step: StepFn, wasRunning: boolean, base: { from: string | null; to: string | null }, build: string): Promise<UpdateLast> {
  const { supervisor, clock } = ctx;
  if (!supervisor.managed || !wasRunning) {
    await step('done');
    return outcomeOf({ ...base, outcome: 'updated', step: 'done', message: `build ${build} installed${supervisor.managed ? '; the server was not running and stays stopped' : '; start the server (the agent only watches it)'}` }, clock);
  }
  await step('start', { newBuildStarted: true });
  ctx.progress('start', `starting build ${build}`);
  const healthy = await startAndWait(ctx);
  if (healthy.kind !== 'down') {
    await step('done');
    return outcomeOf({ ...base, outcome: 'updated', step: 'done', message: `updated to build ${build}; ${healthy.kind === 'up' ? 'the server answers its status query' : `the server was ${healthy.message}`}` }, clock);
  }
  await step('rollback');
  return rollBack(ctx, journal, base, `build ${build} did not come up: ${healthy.why}`);
}

/** The new build did not come up: previous build back, world back to the pre-update backup, start on the old build. */
export async function rollBack(ctx: PipelineContext, journal: Journal, base: { from: string | null; to: string | null }, why: string): Promise<UpdateLast> {
  const { server, supervisor, target, clock } = ctx;
  ctx.progress('rollback', `${why}; putting build ${journal.from ?? '?'} back`);
  if (supervisor.state !== 'stopped') await supervisor.stop({ reason: 'update rollback' });
  if (!journal.previousDir) {
    return outcomeOf({ ...base, outcome: 'failed', step: 'rollback', message: `${why}; no copy of the previous build was kept (update.keepPreviousBuild), the server stays stopped` }, clock);
  }
  const saves = savesInside(target.installDir, server.savePaths);
  await restorePreviousBuild(journal.previousDir, target.installDir, saves);
  let world = '';
  if (journal.newBuildStarted && journal.backupId) {
    await ctx.engine.restoreClaimed(server, null, { backupId: journal.backupId });
    world = `, world restored from ${journal.backupId}`;
  }
  await ctx.store.patch(server.id, { installedBuild: journal.from });
  const again = await startAndWait(ctx);
  const after = again.kind === 'up' ? 'the server runs again' : again.kind === 'left-stopped' ? `the server was ${again.message}` : `but it did not come up either: ${again.why}`;
  return outcomeOf({ ...base, outcome: 'rolled_back', step: 'health', message: `${why}; build ${journal.from ?? '?'} put back${world}; ${after}` }, clock);
}

/** Starts the old build again after a failed download; resolves to "the server was left stopped…" when the supervisor did not start it. */
async function startAgain(ctx: PipelineContext, wasRunning: boolean): Promise<string | null> {
  if (!ctx.supervisor.managed || !wasRunning) return null;
  const r = await startAndWait(ctx);
  if (r.kind === 'down') ctx.logger.error({ problem: r.why }, 'the server did not come back on its old build after a failed update');
  return r.kind === 'left-stopped' ? `the server was ${r.message} and stays on` : null;
}

/** up: it answers; left-stopped: the supervisor did not start it (an operator stopped it during the update); down: why not. */
type StartResult = { kind: 'up' } | { kind: 'left-stopped'; message: string } | { kind: 'down'; why: string };

/** Starts the game through the supervisor and waits until its status query answers, within the start grace. */
async function startAndWait(ctx: PipelineContext): Promise<StartResult> {
  const { supervisor, clock, server } = ctx;
  try {
    const r = await supervisor.resumeAfterJob('update');
    if (!r.started) return { kind: 'left-stopped', message: r.message };
  } catch (err) {
    return { kind: 'down', why: `could not start: ${errorMessage(err)}` };
  }
  const deadline = clock.now() + server.config.health.startGraceMs;
  for (;;) {
    const state: ServerState = supervisor.state;
    if (state === 'running') return { kind: 'up' };
    if (state === 'stopped' || state === 'crashed') return { kind: 'down', why: 'the game exited during start' };
    if (clock.now() > deadline) return { kind: 'down', why: `no answer to the status query within ${server.config.health.startGraceMs} ms (health.startGraceMs)` };
    await clock.sleep(ctx.pollMs);
  }
}

async function warnPlayers(ctx: PipelineContext, req: PipelineRequest, build: string): Promise<void> {
  const marks = [...req.warnMinutes].sort((a, b) => b - a);
  if (marks.length === 0 || !ctx.admin || ctx.supervisor.status().players.online === 0) return;
  for (let i = 0; i < marks.length; i += 1) {
    const m = marks[i]!;
    const when = m < 1 ? `${Math.round(m * 60)} seconds` : `${m} minute${m === 1 ? '' : 's'}`;
    ctx.progress('warn', `warning players: update in ${when}`);
    await ctx.admin.broadcast(`Server update (build ${build}) in ${when}; the server restarts.`, req.signal).catch((err: unknown) => ctx.logger.warn({ err }, 'could not warn players'));
    await ctx.clock.sleep((m - (marks[i + 1] ?? 0)) * 60_000, req.signal);
  }
}

async function waitForEmpty(ctx: PipelineContext, req: PipelineRequest): Promise<void> {
  const limitMs = (ctx.target.update?.waitForEmptyMinutes ?? 0) * 60_000;
  const deadline = ctx.clock.now() + limitMs;
  while (ctx.supervisor.status().players.online > 0 && ctx.clock.now() < deadline) {
    ctx.progress('wait-empty', `waiting for ${ctx.supervisor.status().players.online} player(s) to leave`);
    if (req.signal?.aborted) throw new ReconSyncError('CANCELLED', 'update cancelled while waiting for players to leave');
    await ctx.clock.sleep(ctx.pollMs, req.signal);
  }
}
