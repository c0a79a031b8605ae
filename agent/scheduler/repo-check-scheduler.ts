import { silentLogger, type Logger } from '../../lib/logger.ts';
import { systemClock, type Clock } from '../../protocol/index.ts';
import { parseSchedule } from './scheduler.ts';

/**
 * Runs one job on a cron schedule (agent.yaml `restic.check`, default weekly):
 * the integrity check of the restic repositories. A missed run is not caught
 * up: the next one comes soon enough for a spot check. Time goes through the Clock.
 */

/** Longest single sleep, so a clock change is noticed within the hour. */
const MAX_SLEEP_MS = 3_600_000;

export interface RepoCheckSchedulerOptions {
  schedule: string;
  timezone?: string | undefined;
  run: (signal: AbortSignal) => Promise<void>;
  clock?: Clock;
  logger?: Logger;
}

export class RepoCheckScheduler {
  readonly #opts: RepoCheckSchedulerOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #stop = new AbortController();
  #loop: Promise<void> | null = null;

  constructor(opts: RepoCheckSchedulerOptions) {
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#log = opts.logger ?? silentLogger;
  }

  start(): void {
    const cron = parseSchedule({ serverId: '(agent)', schedule: this.#opts.schedule, timezone: this.#opts.timezone }, 'restic.check');
    const signal = this.#stop.signal;
    this.#loop = (async () => {
      while (!signal.aborted) {
        const next = cron.nextRun(new Date(this.#clock.now()));
        if (!next) return;
        for (let wait = next.getTime() - this.#clock.now(); wait > 0; wait = next.getTime() - this.#clock.now()) {
          await this.#clock.sleep(Math.min(wait, MAX_SLEEP_MS), signal);
        }
        await this.#opts.run(signal).catch((err: unknown) => {
          if (!signal.aborted) this.#log.error({ err }, 'the scheduled restic repository check failed to run');
        });
      }
    })().catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }
}
