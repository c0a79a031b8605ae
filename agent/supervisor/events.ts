import type { AlertKind, ServerState, ServerStatus } from '../../protocol/index.ts';

/** Event names of a Supervisor (style.md §4); the agent adds serverId when it relays them. */
export enum SupervisorEvents {
  /** Every state change, with why. */
  State = 'state',
  /** crashed / unresponsive / restarted / recovered / gave_up: records for the hub's outbox. */
  Alert = 'alert',
  /** Newest-wins status: on change and at the slow heartbeat. */
  Status = 'status',
  /** One health check (query + process) finished; for metrics and tests. */
  Health = 'health',
}

export type SupervisorAlertKind = Extract<AlertKind, 'crashed' | 'unresponsive' | 'restarted' | 'recovered' | 'gave_up'>;

export interface StateEvent {
  from: ServerState;
  to: ServerState;
  reason: string;
  /** ISO time (from the injected clock). */
  at: string;
}

export interface AlertEvent {
  kind: SupervisorAlertKind;
  message: string;
  at: string;
}

export interface HealthEvent {
  ok: boolean;
  /** Consecutive failed queries counted so far (not counted during the start grace). */
  failures: number;
  state: ServerState;
  error?: string;
  at: string;
}

export interface SupervisorEventsMap {
  [SupervisorEvents.State]: [event: StateEvent];
  [SupervisorEvents.Alert]: [event: AlertEvent];
  [SupervisorEvents.Status]: [status: ServerStatus];
  [SupervisorEvents.Health]: [event: HealthEvent];
}
