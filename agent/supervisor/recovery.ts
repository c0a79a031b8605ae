import type { Clock } from '../../protocol/index.ts';
import type { Logger } from '../../lib/logger.ts';
import type { ResolvedServer } from '../types.ts';
import type { SupervisorAlertKind } from './events.ts';
import type { PowerLock } from './power-lock.ts';
import { RestartPolicy } from './restart-policy.ts';
import type { ServerStateMachine } from './state.ts';
import { DelayedRun } from './timers.ts';
import { errorMessage } from '../../lib/error-message.ts';

export type FailureCause = 'crash' | 'hang';

/** What recovery needs from its supervisor: the lifecycle to read, and the few acts it may ask for. */
export interface RecoveryHost {
  readonly server: ResolvedServer;
  readonly managed: boolean;
  readonly machine: ServerStateMachine;
  readonly lock: PowerLock;
  /** Stops the process if one is left (a hung game); a failure here ends the attempt without an alert. */
  stopLeftover(why: string): Promise<void>;
  /** Spawns the game again; when that fails the state is crashed and it throws. */
  spawn(why: string): Promise<void>;
  alert(kind: SupervisorAlertKind, message: string): void;
  /** A sticky line in the status (why the game stays down), sent at once. */
  note(message: string): void;
  /** The restarted game is checked at once instead of after a full health interval. */
  wakeUp(): void;
}

export interface RecoveryOptions {
  host: RecoveryHost;
  clock: Clock;
  /** Aborts when the supervisor closes: a pending restart is dropped. */
  closing: AbortSignal;
  logger: Logger;
}

/**
 * Crash and hang recovery of one managed server (design.md §6): restart with
 * backoff per restart.maxPerHour, or give up and alert. At most one restart is
 * pending; an operator's power action cancels it (`reset` / `cancel`).
 */
export class Recovery {
  readonly #host: RecoveryHost;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #policy: RestartPolicy;
  readonly #pending: DelayedRun;

  constructor(opts: RecoveryOptions) {
    this.#host = opts.host;
    this.#clock = opts.clock;
    this.#log = opts.logger;
    const r = opts.host.server.config.restart;
    this.#policy = new RestartPolicy({ maxPerHour: r.maxPerHour, backoffMs: r.backoffMs });
    this.#pending = new DelayedRun(opts.clock, opts.closing);
  }

  /** Drops a scheduled restart (a power action took over, or the supervisor closes). */
  cancel(): void {
    this.#pending.cancel();
  }

  /** An operator start or restart: nothing pending, and a fresh restart budget. */
  reset(): void {
    this.#pending.cancel();
    this.#policy.reset();
  }

  /** A crash or hang was seen: schedule a restart per the policy, or give up. */
  onFailure(cause: FailureCause): void {
    const host = this.#host;
    const r = host.server.config.restart;
    if (!host.managed || !host.machine.mayRecover) return;
    if (cause === 'crash' && !r.onCrash) {
      host.note('crashed; restart.onCrash is off, start it by hand');
      return;
    }
    if (cause === 'hang' && !r.onHang) return;
    const decision = this.#policy.next(this.#clock.now());
    const name = host.server.name;
    if (decision.action === 'give_up') {
      host.alert('gave_up', `${name} ${cause === 'crash' ? 'crashed' : 'hung'} again after ${decision.recent} restarts within an hour (limit restart.maxPerHour = ${decision.max}); it stays down until started by hand`);
      host.note(`gave up after ${decision.recent} restarts within an hour; start it by hand once the cause is fixed`);
      return;
    }
    this.#log.info({ cause, delayMs: decision.delayMs, attempt: decision.attempt }, 'restart scheduled');
    this.#pending.schedule(decision.delayMs, async () => {
      if (!host.machine.mayRecover) return;
      // The game may have come back meanwhile (a hang that cleared, a start by hand).
      if (host.machine.state !== (cause === 'crash' ? 'crashed' : 'unresponsive')) return;
      if (host.lock.current !== null) {
        this.#log.info({ action: host.lock.current }, 'skipping automatic restart: a power action is running');
        return;
      }
      await host.lock.run('recover', async () => {
        const what = cause === 'crash' ? 'a crash' : 'it stopped answering';
        await host.stopLeftover(`restarting: ${what}`);
        try {
          await host.spawn(`automatic restart after ${what}`);
        } catch (err) {
          host.alert('crashed', `${name} could not be restarted: ${errorMessage(err)}`);
          this.onFailure('crash');
          return;
        }
        host.alert('restarted', `${name} restarted after ${what} (restart ${decision.attempt} of ${decision.max} allowed per hour)`);
        host.wakeUp();
      });
    }, (err) => this.#log.error({ err }, 'automatic restart failed'));
  }
}
