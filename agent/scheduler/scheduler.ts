import { Cron } from 'croner';
import { silentLogger, type Logger } from '../../lib/logger.ts';
import { ReconSyncError, systemClock, type Clock } from '../../protocol/index.ts';
import { LastRunStore } from './last-run.ts';
import { errorMessage } from '../../lib/error-message.ts';

/**
 * Scheduled backups. croner only does the calendar math (next run after a
 * time, in the schedule's timezone); waiting goes through the injected Clock
 * so tests drive it with a fake clock. A run that fell due while the agent
 * was down runs once at start (trigger `catch-up`), however many were missed.
 */

export type ScheduledTrigger = 'schedule' | 'catch-up';

export interface ScheduleEntry {
  serverId: string;
  /** Cron expression (croner syntax, 5 or 6 fields). */
  schedule: string;
  /** IANA zone; default: the machine's local zone. */
  timezone?: string | undefined;
}

export interface BackupSchedulerOptions {
  dataDir: string;
  run: (serverId: string, trigger: ScheduledTrigger, signal: AbortSignal) => Promise<void>;
  clock?: Clock;
  logger?: Logger;
}

/** setTimeout overflows past ~24.8 days, and a long sleep misses clock jumps: wake at least this often. */
const MAX_SLEEP_MS = 3_600_000;

export function parseSchedule(entry: ScheduleEntry, field = 'backup.schedule'): Cron {
  try {
    return new Cron(entry.schedule, { paused: true, ...(entry.timezone ? { timezone: entry.timezone } : {}) });
  } catch (err) {
    throw new ReconSyncError('INVALID_PARAMS', `server ${entry.serverId}: ${field} "${entry.schedule}"${entry.timezone ? ` (timezone ${entry.timezone})` : ''} is not a valid cron expression: ${errorMessage(err)}`);
  }
}

export class BackupScheduler {
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #store: LastRunStore;
  readonly #ac = new AbortController();
  readonly #loops: Promise<void>[] = [];
  readonly #crons = new Map<string, Cron>();
  readonly #opts: BackupSchedulerOptions;

  constructor(opts: BackupSchedulerOptions) {
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#logger = opts.logger ?? silentLogger;
    this.#store = new LastRunStore(opts.dataDir);
  }

  /** Validates every schedule first (nothing starts when one is bad), then starts one loop per server. */
  start(entries: ScheduleEntry[]): void {
    const parsed = entries.map((e) => ({ e, cron: parseSchedule(e) }));
    for (const { e, cron } of parsed) {
      this.#crons.set(e.serverId, cron);
      this.#loops.push(this.#loop(e.serverId, cron));
    }
  }

  /** Next scheduled run of a server, or null. */
  nextRun(serverId: string): Date | null {
    return this.#crons.get(serverId)?.nextRun(new Date(this.#clock.now())) ?? null;
  }

  /** Stops every loop; a running backup sees the abort signal. Resolves when all loops ended. */
  async stop(): Promise<void> {
    this.#ac.abort(new ReconSyncError('CANCELLED', 'the agent is shutting down'));
    await Promise.allSettled(this.#loops);
  }

  async #loop(serverId: string, cron: Cron): Promise<void> {
    const signal = this.#ac.signal;
    const log = this.#logger.child({ serverId });
    try {
      const startedAt = this.#clock.now();
      const last = await this.#store.get(serverId);
      if (last === undefined) {
        await this.#store.set(serverId, startedAt); // first start: nothing can have been missed
      } else {
        const due = cron.nextRun(new Date(last));
        if (due && due.getTime() <= startedAt) {
          log.info({ missed: due.toISOString() }, 'a scheduled backup was missed while the agent was down; running it now');
          await this.#runOnce(serverId, 'catch-up', log);
          await this.#store.set(serverId, startedAt);
        }
      }
      while (!signal.aborted) {
        const next = cron.nextRun(new Date(this.#clock.now()));
        if (!next) return;
        for (let wait = next.getTime() - this.#clock.now(); wait > 0; wait = next.getTime() - this.#clock.now()) {
          await this.#clock.sleep(Math.min(wait, MAX_SLEEP_MS), signal);
        }
        await this.#runOnce(serverId, 'schedule', log);
        await this.#store.set(serverId, next.getTime());
      }
    } catch (err) {
      if (!signal.aborted) log.error({ err }, 'backup schedule loop stopped unexpectedly');
    }
  }

  async #runOnce(serverId: string, trigger: ScheduledTrigger, log: Logger): Promise<void> {
    try {
      await this.#opts.run(serverId, trigger, this.#ac.signal);
    } catch (err) {
      if (this.#ac.signal.aborted) throw err;
      // The engine already alerted; one failed run must not stop the schedule.
      log.warn({ err, trigger }, 'scheduled backup failed');
    }
  }
}

/** The schedule entries for the servers that have `backup.schedule` set. */
export function scheduleEntriesFor(servers: ReadonlyArray<{ id: string; config: { backup: { schedule?: string | undefined; timezone?: string | undefined } } }>): ScheduleEntry[] {
  return servers
    .filter((s) => s.config.backup.schedule !== undefined)
    .map((s) => ({ serverId: s.id, schedule: s.config.backup.schedule!, timezone: s.config.backup.timezone }));
}
