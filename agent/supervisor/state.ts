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

/** Holds the current state; every change goes through `transition`. */
export class ServerStateMachine {
  #state: ServerState;
  #since: number;

  constructor(initial: ServerState = 'unknown', now = 0) {
    this.#state = initial;
    this.#since = now;
  }

  get state(): ServerState {
    return this.#state;
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
    return { from, to, reason, at: now };
  }
}
