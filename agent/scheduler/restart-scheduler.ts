import type { Cron } from 'croner';
import { silentLogger, type Logger } from '../../lib/logger.ts';
import { ReconSyncError, systemClock, type Clock } from '../../protocol/index.ts';
import { parseSchedule } from './scheduler.ts';

/**
 * Scheduled restarts (agent.yaml `restart.schedule`, design.md §10). The
 * countdown starts the largest `warnAt` before the scheduled time, so the
 * game goes down on the minute the schedule names. With
 * `skipIfPlayersAbove`, a run waits up to `waitForEmptyMinutes` for players
 * to leave, then skips if they have not. A missed run is not caught up: a
 * restart only matters while the game runs. Time goes through the Clock.
 */

export interface RestartEntry {
  serverId: string;
  schedule: string;
  timezone?: string | undefined;
  /** Minutes before the restart at which players are warned. */
  warnAt: readonly number[];
  skipIfPlayersAbove?: number | undefined;
  waitForEmptyMinutes: number;
}

/** What the scheduler needs of a server (the supervisor, in the agent). */
export interface RestartTarget {
  running(): boolean;
  players(): number;
  /**
   * `warnAt` in seconds before the restart; CANCELLED when the signal aborts during the countdown.
   * Resolves with the state it left: 'stopped' when an operator stopped the game meanwhile (the supervisor keeps it down).
   */
  restart(opts: { warnAt: number[]; signal: AbortSignal; reason: string }): Promise<{ state: string; message?: string | undefined }>;
}

export type RestartOutcome = 'restarted' | 'skipped_players' | 'skipped_not_running' | 'skipped_operator_stop' | 'cancelled' | 'failed';

export interface RestartSchedulerOptions {
  target: (serverId: string) => RestartTarget;
  clock?: Clock;
  logger?: Logger;
  /** How often player counts are looked at while waiting for the server to empty. */
  pollMs?: number;
  /** Each run's outcome (tests, logs). */
  onOutcome?: (serverId: string, outcome: RestartOutcome) => void;
}

const MAX_SLEEP_MS = 3_600_000;
const DefaultPollMs = 30_000;

export class RestartScheduler {
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #opts: RestartSchedulerOptions;
  readonly #stop = new AbortController();
  readonly #loops: Promise<void>[] = [];
  readonly #crons = new Map<string, { cron: Cron; entry: RestartEntry }>();
  /** The run in its countdown or wait, per server: cancel() aborts it. */
  readonly #current = new Map<string, AbortController>();

  constructor(opts: RestartSchedulerOptions) {
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#log = (opts.logger ?? silentLogger).child({ component: 'restart-schedule' });
  }

  /** Validates every schedule first (nothing starts when one is bad), then one loop per server. */
  start(entries: RestartEntry[]): void {
    const parsed = entries.map((entry) => ({ entry, cron: parseSchedule({ serverId: entry.serverId, schedule: entry.schedule, timezone: entry.timezone }, 'restart.schedule') }));
    for (const p of parsed) {
      this.#crons.set(p.entry.serverId, p);
      this.#loops.push(this.#loop(p.entry, p.cron));
    }
  }

  /** The next scheduled restart (the time the game goes down), or null. */
  nextRun(serverId: string): Date | null {
    return this.#crons.get(serverId)?.cron.nextRun(new Date(this.#clock.now())) ?? null;
  }

  /** Cancels a scheduled restart that is warning players or waiting for them to leave. True when one was. */
  cancel(serverId: string): boolean {
    const ac = this.#current.get(serverId);
    if (!ac) return false;
    ac.abort(new ReconSyncError('CANCELLED', 'scheduled restart cancelled by an operator'));
    return true;
  }

  async stop(): Promise<void> {
    this.#stop.abort(new ReconSyncError('CANCELLED', 'the agent is shutting down'));
    await Promise.allSettled(this.#loops);
  }

  async #loop(entry: RestartEntry, cron: Cron): Promise<void> {
    const log = this.#log.child({ serverId: entry.serverId });
    const leadMs = Math.max(0, ...entry.warnAt) * 60_000;
    try {
      while (!this.#stop.signal.aborted) {
        // The next time whose countdown has not begun yet.
        const at = cron.nextRun(new Date(this.#clock.now() + leadMs));
        if (!at) return;
        const countdownAt = at.getTime() - leadMs;
        for (let wait = countdownAt - this.#clock.now(); wait > 0; wait = countdownAt - this.#clock.now()) {
          await this.#clock.sleep(Math.min(wait, MAX_SLEEP_MS), this.#stop.signal);
        }
        const outcome = await this.#runOnce(entry, log);
        this.#opts.onOutcome?.(entry.serverId, outcome);
        // Never twice for one scheduled time, however fast the run was.
        const after = at.getTime() + 1000 - this.#clock.now();
        if (after > 0) await this.#clock.sleep(after, this.#stop.signal);
      }
    } catch (err) {
      if (!this.#stop.signal.aborted) log.error({ err }, 'restart schedule loop stopped unexpectedly');
    }
  }

  async #runOnce(entry: RestartEntry, log: Logger): Promise<RestartOutcome> {
    const target = this.#opts.target(entry.serverId);
    if (!target.running()) {
      log.info('scheduled restart skipped: the server is not running');
      return 'skipped_not_running';
    }
    const ac = new AbortController();
    this.#current.set(entry.serverId, ac);
    const signal = AbortSignal.any([ac.signal, this.#stop.signal]);
    try {
      const limit = entry.skipIfPlayersAbove;
      if (limit !== undefined && target.players() > limit) {
        const deadline = this.#clock.now() + entry.waitForEmptyMinutes * 60_000;
        while (target.players() > limit && this.#clock.now() < deadline) {
          await this.#clock.sleep(Math.min(this.#opts.pollMs ?? DefaultPollMs, deadline - this.#clock.now()), signal);
        }
        if (target.players() > limit) {
          log.info({ players: target.players(), skipIfPlayersAbove: limit, waitedMinutes: entry.waitForEmptyMinutes }, 'scheduled restart skipped: players are still on');
          return 'skipped_players';
        }
      }
      const done = await target.restart({ warnAt: entry.warnAt.map((m) => Math.round(m * 60)), signal, reason: 'scheduled restart' });
      if (done.state === 'stopped') {
        // The operator stopped it while the run waited for players or counted down: their word stands.
        log.info({ message: done.message }, 'scheduled restart left the server stopped: an operator stopped it');
        return 'skipped_operator_stop';
      }
      log.info('scheduled restart done');
      return 'restarted';
    } catch (err) {
      if (this.#stop.signal.aborted) throw err;
      if (ac.signal.aborted || (err instanceof ReconSyncError && err.code === 'CANCELLED')) {
        log.info('scheduled restart cancelled');
        return 'cancelled';
      }
      log.warn({ err }, 'scheduled restart failed');
      return 'failed';
    } finally {
      if (this.#current.get(entry.serverId) === ac) this.#current.delete(entry.serverId);
    }
  }
}
