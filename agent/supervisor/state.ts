import { ReconSyncError, type ServerState } from '../../protocol/index.ts';

/**
 * Which state may follow which (design.md §6). One table, so a new path through
 * the machine is a deliberate edit here and not an accident somewhere else.
 *
 * - unknown: the agent just started and has not looked yet.
 * - stopped → running/unresponsive: a watched (or adopted) game came up without us.
 * - starting/running/unresponsive → stopped: the process ended while the supervisor
 *   was told not to treat that as a crash (held by a backup, or a watched server).
 * - stopping → unresponsive: even the hard kill left the process alive.
 * - crashed → running: a watched game came back by itself; crashed → stopped: an operator stop.
 */
export const stateTransitions = {
  unknown: ['stopped', 'starting', 'running', 'unresponsive', 'stopping'],
  stopped: ['starting', 'running', 'unresponsive'],
  starting: ['running', 'unresponsive', 'crashed', 'stopping', 'stopped'],
  running: ['unresponsive', 'crashed', 'stopping', 'stopped'],
  unresponsive: ['running', 'crashed', 'stopping', 'stopped'],
  crashed: ['starting', 'running', 'stopped'],
  stopping: ['stopped', 'unresponsive'],
} as const satisfies Record<ServerState, readonly ServerState[]>;

export function canTransition(from: ServerState, to: ServerState): boolean {
  return (stateTransitions[from] as readonly ServerState[]).includes(to);
}

export class IllegalTransitionError extends ReconSyncError {
  readonly from: ServerState;
  readonly to: ServerState;
  constructor(from: ServerState, to: ServerState, reason: string) {
    super('INTERNAL', `illegal server state transition ${from} → ${to} (${reason}); this is a bug in the supervisor`);
    this.name = 'IllegalTransitionError';
    this.from = from;
    this.to = to;
  }
}

export interface StateChange {
  from: ServerState;
  to: ServerState;
  reason: string;
  /** Clock ms of the change. */
  at: number;
}

/** Should the game run: every power action says so (start and restart: run; stop: stop). */
export type Intent = 'run' | 'stop';

/**
 * What an exit of the watched process means, decided from the lifecycle alone:
 * - expected: a stop sequence owns the process (state stopping) and moves the state itself;
 * - stopped: not a crash (a watched server, one held by a backup or update, or one told to stop);
 * - crash: a managed game that should run died.
 */
export type ExitMeaning = { kind: 'expected' } | { kind: 'stopped'; heldBy: readonly string[] } | { kind: 'crash' };

/** States in which failed status queries are counted toward unresponsive; any other state starts the count afresh. */
const countingStates: ReadonlySet<ServerState> = new Set(['running', 'unresponsive']);

/**
 * Holds the lifecycle of one server: the public state (every change goes
 * through `transition`) and the sub-state that says what the next exit or
 * failed query means: the intent, who holds the server, and the consecutive
 * query failures. The supervisor keeps no flags of its own beside it.
 */
export class ServerStateMachine {
  #state: ServerState;
  #since: number;
  #intent: Intent = 'stop';
  #failures = 0;
  readonly #holds = new Map<symbol, string>();

  constructor(initial: ServerState = 'unknown', now = 0) {
    this.#state = initial;
    this.#since = now;
  }

  get state(): ServerState {
    return this.#state;
  }

  get intent(): Intent {
    return this.#intent;
  }

  want(intent: Intent): void {
    this.#intent = intent;
  }

  /** Consecutive failed status queries (health.ts decides how they count). */
  get failures(): number {
    return this.#failures;
  }

  set failures(n: number) {
    this.#failures = n;
  }

  /** While held (a backup, an update, a restore), an exit is not a crash and nothing is restarted. The release says whether it still held. */
  hold(reason: string): () => boolean {
    const key = Symbol(reason);
    this.#holds.set(key, reason);
    return () => this.#holds.delete(key);
  }

  get held(): boolean {
    return this.#holds.size > 0;
  }

  /** Why it is held (the holders' reasons), for a refusal that names the job. */
  get heldBy(): readonly string[] {
    return [...this.#holds.values()];
  }

  /** Whether an automatic restart (crash or hang) may go ahead now. */
  get mayRecover(): boolean {
    return !this.held && this.#intent === 'run';
  }

  /** What an exit of the watched process means now (see ExitMeaning). */
  exitMeaning(managed: boolean): ExitMeaning {
    if (this.#state === 'stopping') return { kind: 'expected' };
    if (!managed || this.held || this.#intent === 'stop') return { kind: 'stopped', heldBy: managed ? [...this.#holds.values()] : [] };
    return { kind: 'crash' };
  }

  /** Clock ms when the current state was entered. */
  get since(): number {
    return this.#since;
  }

  /**
   * Moves to `to`, or throws IllegalTransitionError. Asking for the current
   * state is not a change: it returns null and nothing is emitted.
   */
  transition(to: ServerState, reason: string, now: number): StateChange | null {
    const from = this.#state;
    if (from === to) return null;
    if (!canTransition(from, to)) throw new IllegalTransitionError(from, to, reason);
    this.#state = to;
    this.#since = now;
    if (!countingStates.has(to)) this.#failures = 0;
    return { from, to, reason, at: now };
  }
}
