import { z } from 'zod';
import type { AlertKind } from './index.ts';

/**
 * Event kinds of the hub API and webhooks (design.md §10, fixed) plus the agents' other alert kinds, so
 * that every alert becomes an event under a name of its own.
 */
export const fixedEventKinds = [
  'crash', 'restarted', 'gave_up', 'unresponsive',
  'backup_ok', 'backup_failed', 'backup_overdue', 'restore_ok', 'restore_failed',
  'update_available', 'update_ok', 'update_failed', 'update_rolled_back',
  'player_join', 'player_leave', 'agent_online', 'agent_offline', 'server_conflict',
] as const;
/** Alert kinds the fixed list has no name for; they keep the alert's name. */
const extraAlertKinds = ['recovered', 'backup_shrunk', 'upload_failed'] as const satisfies readonly AlertKind[];
export const eventKinds = [...fixedEventKinds, ...extraAlertKinds] as const;
export const EventKindSchema = z.enum(eventKinds);
export type EventKind = z.infer<typeof EventKindSchema>;

export const severities = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof severities)[number];

/** One table decides how loud each kind is (webhook filters and Discord role mentions read it). */
export const severityOf: Record<EventKind, Severity> = {
  crash: 'critical', gave_up: 'critical', restore_failed: 'critical', update_failed: 'critical',
  unresponsive: 'warning', backup_failed: 'warning', backup_overdue: 'warning', update_rolled_back: 'warning',
  agent_offline: 'warning', server_conflict: 'warning', backup_shrunk: 'warning', upload_failed: 'warning',
  restarted: 'info', recovered: 'info', backup_ok: 'info', restore_ok: 'info', update_available: 'info', update_ok: 'info',
  player_join: 'info', player_leave: 'info', agent_online: 'info',
};

/** The agent's alert name → the event kind (only "crashed" is spelled differently); a new alert kind fails typechecking here until it has one. */
export function kindOfAlert(kind: AlertKind | 'server_conflict'): EventKind {
  return kind === 'crashed' ? 'crash' : kind;
}

/** `GET /api/v1/events` item (design.md §10, fixed). */
export const HubEventSchema = z.object({
  id: z.number().int().positive(),
  at: z.string(),
  kind: EventKindSchema,
  severity: z.enum(severities),
  agentId: z.string().nullable(),
  serverId: z.string().nullable(),
  message: z.string(),
  data: z.record(z.string(), z.unknown()),
});
export type HubEvent = z.infer<typeof HubEventSchema>;
/** An event before the store gave it an id. */
export type NewHubEvent = Omit<HubEvent, 'id' | 'severity'> & { severity?: Severity };
