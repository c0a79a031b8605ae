import { Cron } from 'croner';
import { ReconSyncError, systemClock, type AlertKind, type Clock, type EventData, type RecordTopic, type StateTopic, type UpdateInfo, type UpdateLast, type UpdateStep } from '../../protocol/index.ts';
import type { Logger } from '../../lib/logger.ts';
import type { AgentConfig } from '../config.ts';
import type { ServerUnit } from '../server-unit.ts';
import type { BackupEngine } from '../backup/engine.ts';
import { checkBuild, isNewer } from './check.ts';
import { runUpdate, rollBack, startNewBuild, type PipelineContext } from './pipeline.ts';
import { isCompleteCopy, restorePreviousBuild, savesInside, statfsFreeSpace, type FreeSpace } from './previous-build.ts';
import { UpdateStateStore, type Journal, type ServerUpdateState } from './state-store.ts';
import type { SteamCmd, SteamCmdRunner } from './steamcmd.ts';
import { createSteamCmd, steamTarget, type SteamTarget } from './target.ts';
import { readManifest } from './vdf.ts';
import { errorMessage } from '../../lib/error-message.ts';

export interface UpdaterOptions {
  config: AgentConfig;
  os: 'linux' | 'windows';
  units: ReadonlyMap<string, ServerUnit>;
  engine: BackupEngine;
  clock?: Clock;
  logger: Logger;
  publishRecord<T extends RecordTopic>(topic: T, data: EventData<T>): Promise<void>;
  publishState<T extends StateTopic>(topic: T, data: EventData<T>): void;
  /** Injected only where a full disk is needed on demand (tests). */
  freeSpace?: FreeSpace;
  runner?: SteamCmdRunner;
  random?: () => number;
  /** Largest random delay added to each scheduled check, so a fleet does not ask Steam in the same second. */
  jitterMs?: number;
  pollMs?: number;
}

export const DefaultUpdaterOptions = { jitterMs: 5 * 60_000, pollMs: 250 } as const satisfies Partial<UpdaterOptions>;

const alertFor: Record<UpdateLast['outcome'], AlertKind | null> = { updated: 'update_ok', up_to_date: null, failed: 'update_failed', rolled_back: 'update_rolled_back' };
const MAX_SLEEP_MS = 3_600_000;

/**
 * The agent's game updates: scheduled checks (croner, jittered), the
 * `update_available` record once per build, one update pipeline per server at
 * a time (it holds the backup engine's slot, so backups and restores answer
 * BUSY meanwhile), and recovery of an update the agent died in.
 */
export class Updater {
  readonly store: UpdateStateStore;
  readonly steam: SteamCmd;
  readonly #o: UpdaterOptions & { jitterMs: number; pollMs: number };
  readonly #clock: Clock;
  readonly #running = new Map<string, Promise<UpdateLast>>();
  readonly #ac = new AbortController();
  readonly #loops: Promise<void>[] = [];

  constructor(o: UpdaterOptions) {
    this.#o = { ...DefaultUpdaterOptions, ...o };
    this.#clock = o.clock ?? systemClock;
    this.store = new UpdateStateStore(o.config.dataDir);
    this.steam = createSteamCmd(o.config, o.os, o.logger, o.runner);
  }

  #unit(serverId: string): { unit: ServerUnit; target: SteamTarget } {
    const unit = this.#o.units.get(serverId);
    if (!unit) throw new ReconSyncError('UNKNOWN_SERVER', `agent ${this.#o.config.id} has no server "${serverId}"`);
    return { unit, target: steamTarget(unit.server) };
  }

  #info(target: SteamTarget, s: ServerUpdateState, installed: string | null): UpdateInfo {
    return {
      appId: target.appId, branch: target.branch, installedBuild: installed, latestBuild: s.latestBuild,
      available: s.latestBuild !== null && isNewer(s.latestBuild, installed), checkedAt: s.checkedAt, last: s.last,
    };
  }

  async #installed(target: SteamTarget, s: ServerUpdateState): Promise<string | null> {
    const m = await readManifest(target.installDir, target.appId).catch(() => null);
    return m?.fullyInstalled ? m.buildid : s.installedBuild;
  }

  /** What is known without asking Steam. */
  async status(serverId: string): Promise<UpdateInfo> {
    const { target } = this.#unit(serverId);
    const s = await this.store.get(serverId);
    return this.#info(target, s, await this.#installed(target, s));
  }

  /** Asks Steam now; a build not reported before raises `update_available` (once per build). */
  async check(serverId: string, signal?: AbortSignal): Promise<UpdateInfo> {
    const { unit, target } = this.#unit(serverId);
    const r = await checkBuild(this.steam, { appId: target.appId, branch: target.branch, installDir: target.installDir, logger: this.#o.logger.child({ serverId }), ...(signal ? { signal } : {}) });
    const prev = await this.store.get(serverId);
    const fresh = r.available && r.latestBuild !== prev.notifiedBuild;
    const s = await this.store.patch(serverId, {
      installedBuild: r.installedBuild, latestBuild: r.latestBuild, checkedAt: this.#iso(),
      ...(fresh ? { notifiedBuild: r.latestBuild } : {}),
    });
    const info = this.#info(target, s, r.installedBuild);
    await this.#o.publishRecord('update.state', { ...info, serverId, event: fresh ? 'available' : 'checked' });
    if (fresh) {
      await this.#o.publishRecord('alert', {
        serverId, kind: 'update_available', at: this.#iso(),
        message: `${unit.server.name}: build ${r.latestBuild} is available on branch ${target.branch} (installed: ${r.installedBuild ?? 'none'})${target.update?.policy === 'auto' ? '; updating automatically' : '; apply it with /server update'}`,
      });
    }
    return info;
  }

  /** Starts the pipeline and returns at once; BUSY when an update, backup or restore of the server runs. */
  apply(serverId: string, opts: { warnMinutes?: readonly number[]; actor: string }): { started: true; done: Promise<UpdateLast> } {
    const { unit, target } = this.#unit(serverId);
    if (this.#running.has(serverId)) throw new ReconSyncError('BUSY', `an update of ${serverId} is already running; its outcome will show in GET /api/v1/servers/${serverId}/update`);
    const power = unit.supervisor.powerAction;
    if (power !== null) throw new ReconSyncError('BUSY', `cannot update ${serverId}: a ${power} is running${power === 'restart' ? ' (cancel it or wait for it)' : ''}`);
    const release = this.#o.engine.claim(serverId, 'update');
    const log = this.#o.logger.child({ serverId, component: 'update' });
    const ctx = this.#context(unit, target, log);
    const done = (async () => {
      try {
        const last = await runUpdate(ctx, { warnMinutes: opts.warnMinutes ?? target.update?.warnAt ?? [], actor: opts.actor, signal: this.#ac.signal });
        await this.#finish(serverId, target, last);
        return last;
      } catch (err) {
        // The agent is closing: the journal stays, and the next start finishes the job.
        if (this.#ac.signal.aborted) throw err;
        // Anything else (a SteamCMD that cannot run, a stop refused as BUSY, a failed backup) is handled now,
        // the way a restart would: finish the update or put the old build back, and report one outcome.
        log.error({ err }, 'update pipeline failed; bringing the server back');
        const why = errorMessage(err);
        const s = await this.store.get(serverId);
        let last: UpdateLast;
        if (s.journal) {
          const journal = s.journal;
          const recovered = await this.#recoverOne(unit, target, journal, log).catch((e: unknown): UpdateLast => ({
            from: journal.from, to: journal.to, outcome: 'failed', step: journal.step, message: `could not bring the server back: ${errorMessage(e)}`, at: this.#iso(),
          }));
          last = { ...recovered, message: `${why}; ${recovered.message}`.slice(0, 2000) };
        } else {
          last = { from: s.installedBuild, to: s.latestBuild, outcome: 'failed', step: 'check', message: why.slice(0, 2000), at: this.#iso() };
        }
        await this.#finish(serverId, target, last);
        return last;
      } finally {
        release();
        this.#running.delete(serverId);
      }
    })();
    this.#running.set(serverId, done);
    done.catch(() => undefined);
    return { started: true, done };
  }

  /** True while an update of the server runs. */
  busy(serverId: string): boolean {
    return this.#running.has(serverId);
  }

  #context(unit: ServerUnit, target: SteamTarget, logger: Logger): PipelineContext {
    return {
      server: unit.server, supervisor: unit.supervisor, admin: unit.admin, engine: this.#o.engine, steam: this.steam, target,
      store: this.store, clock: this.#clock, logger, freeSpace: this.#o.freeSpace ?? statfsFreeSpace,
      retries: this.#o.config.steamcmd.retries, retryDelayMs: this.#o.config.steamcmd.retryDelayMs, pollMs: this.#o.pollMs,
      progress: (step: UpdateStep, message: string, percent: number | null = null) => {
        logger.info({ step, percent }, message);
        this.#o.publishState('update.progress', { serverId: unit.server.id, step, message: message.slice(0, 500), percent, at: this.#iso() });
      },
    };
  }

  /** The outcome goes into the outbox (loss-free) before the journal is cleared. */
  async #finish(serverId: string, target: SteamTarget, last: UpdateLast): Promise<void> {
    const s = await this.store.patch(serverId, { last, ...(last.outcome === 'updated' ? { installedBuild: last.to } : {}) });
    const info = this.#info(target, s, await this.#installed(target, s));
    await this.#o.publishRecord('update.state', { ...info, serverId, event: 'outcome' });
    const kind = alertFor[last.outcome];
    if (kind) await this.#o.publishRecord('alert', { serverId, kind, at: this.#iso(), message: `update ${last.from ?? '?'} → ${last.to ?? '?'}: ${last.outcome.replace('_', ' ')} at step ${last.step}: ${last.message}`.slice(0, 2000) });
    await this.store.patch(serverId, { journal: null });
  }

  /**
   * An update the agent died in (journal left): finish it or put the old
   * build back, never leave a half-installed build running. Returns the
   * servers it takes care of (the agent must not auto-start those itself).
   */
  async recover(): Promise<Set<string>> {
    const handled = new Set<string>();
    for (const [serverId, unit] of this.#o.units) {
      let target: SteamTarget;
      try {
        target = steamTarget(unit.server);
      } catch {
        continue;
      }
      const s = await this.store.get(serverId);
      const j = s.journal;
      if (!j) continue;
      const log = this.#o.logger.child({ serverId, component: 'update' });
      log.warn({ step: j.step, from: j.from, to: j.to }, 'the agent stopped during an update; finishing it');
      if (j.step !== 'warn' && j.step !== 'wait-empty' && j.step !== 'check') handled.add(serverId);
      const release = this.#o.engine.claim(serverId, 'update');
      const done = this.#recoverOne(unit, target, j, log)
        .then(async (last) => {
          await this.#finish(serverId, target, last);
          return last;
        })
        .finally(() => {
          release();
          this.#running.delete(serverId);
        });
      this.#running.set(serverId, done);
      done.catch((err: unknown) => log.error({ err }, 'could not finish the interrupted update'));
    }
    return handled;
  }

  async #recoverOne(unit: ServerUnit, target: SteamTarget, j: Journal, log: Logger): Promise<UpdateLast> {
    const ctx = this.#context(unit, target, log);
    const base = { from: j.from, to: j.to };
    const release = unit.supervisor.hold('game update recovery');
    const step = async (st: UpdateStep, change: Partial<Journal> = {}) => {
      Object.assign(j, change, { step: st });
      await this.store.patch(unit.server.id, { journal: { ...j } });
    };
    const failed = (message: string): UpdateLast => ({ ...base, outcome: 'failed', step: j.step, message, at: this.#iso() });
    try {
      switch (j.step) {
        case 'check': case 'space': case 'warn': case 'wait-empty':
          return failed('the update was interrupted before the server was stopped; nothing was changed');
        case 'stop': case 'backup': case 'keep-previous': {
          const runs = await this.#startOldBuild(unit, j);
          return failed(`the update was interrupted during step ${j.step}, before SteamCMD ran; ${runs}`);
        }
        case 'download': case 'confirm': {
          const m = await readManifest(target.installDir, target.appId).catch(() => null);
          if (m?.fullyInstalled && m.buildid === j.to) return await startNewBuild(ctx, j, step, j.wasRunning, base, m.buildid);
          if (j.previousDir && (await isCompleteCopy(j.previousDir))) await restorePreviousBuild(j.previousDir, target.installDir, savesInside(target.installDir, unit.server.savePaths));
          const runs = await this.#startOldBuild(unit, j);
          return failed(`the update was interrupted while SteamCMD was installing build ${j.to}; ${j.previousDir ? `build ${j.from ?? '?'} was put back` : 'no copy of the previous build was kept'}; ${runs}`);
        }
        case 'start': case 'health':
          return await startNewBuild(ctx, j, step, j.wasRunning, base, j.to);
        case 'rollback':
          return await rollBack(ctx, j, base, `the update was interrupted while rolling back build ${j.to}`);
        case 'done': {
          const s = await this.store.get(unit.server.id);
          return s.last ?? { ...base, outcome: 'updated', step: 'done', message: `build ${j.to} installed`, at: this.#iso() };
        }
      }
    } finally {
      release();
    }
  }

  /** The old build runs again when it ran before, unless the supervisor leaves it stopped (an operator's stop). Says which. */
  async #startOldBuild(unit: ServerUnit, j: Journal): Promise<string> {
    const sup = unit.supervisor;
    if (!j.wasRunning || !sup.managed) return `the server stays on build ${j.from ?? '?'}`;
    if (sup.state !== 'stopped') return `the server runs build ${j.from ?? '?'} again`;
    const r = await sup.resumeAfterJob('update');
    return r.started ? `the server runs build ${j.from ?? '?'} again` : `the server was ${r.message}`;
  }

  /** One loop per server with `update:`: check on the cron, after a random delay. */
  start(): void {
    for (const [serverId, unit] of this.#o.units) {
      const update = unit.server.config.update;
      if (!update || unit.server.profile.steam === undefined) continue;
      let cron: Cron;
      try {
        cron = new Cron(update.check, { paused: true });
      } catch (err) {
        throw new ReconSyncError('INVALID_PARAMS', `server ${serverId}: update.check "${update.check}" is not a valid cron expression: ${errorMessage(err)}`);
      }
      this.#loops.push(this.#loop(serverId, cron, update.policy));
    }
  }

  async #loop(serverId: string, cron: Cron, policy: 'notify' | 'auto'): Promise<void> {
    const signal = this.#ac.signal;
    const log = this.#o.logger.child({ serverId, component: 'update' });
    const random = this.#o.random ?? Math.random;
    while (!signal.aborted) {
      try {
        const next = cron.nextRun(new Date(this.#clock.now()));
        if (!next) return;
        // Jitter within the schedule's own period: a per-second test schedule gets at most a second, the 30-minute default up to jitterMs.
        const period = (cron.nextRun(next)?.getTime() ?? Infinity) - next.getTime();
        const at = next.getTime() + Math.floor(random() * Math.min(this.#o.jitterMs, period));
        for (let wait = at - this.#clock.now(); wait > 0; wait = at - this.#clock.now()) await this.#clock.sleep(Math.min(wait, MAX_SLEEP_MS), signal);
        if (this.#running.has(serverId)) continue;
        const info = await this.check(serverId, signal);
        if (policy === 'auto' && info.available) this.apply(serverId, { actor: 'auto' });
      } catch (err) {
        if (signal.aborted) return;
        log.warn({ err }, 'scheduled update check failed; trying again at the next one');
        // A failing check must not spin: wait at least a minute before the next try.
        await this.#clock.sleep(60_000, signal).catch(() => undefined);
      }
    }
  }

  /** Stops the schedules; a running pipeline is aborted at its next wait (the journal lets the next start finish it). */
  async close(): Promise<void> {
    this.#ac.abort(new ReconSyncError('CANCELLED', 'the agent is shutting down'));
    await Promise.allSettled([...this.#loops, ...this.#running.values()]);
  }

  #iso(): string {
    return new Date(this.#clock.now()).toISOString();
  }
}
