import { z } from 'zod';
import { BackupRecordSchema, ServerStatusSchema, id } from './status.ts';
import { UpdateProgressSchema, UpdateStateRecordSchema } from './update.ts';

export const alertKinds = [
  'crashed', 'unresponsive', 'restarted', 'recovered', 'gave_up',
  'backup_failed', 'backup_overdue', 'backup_shrunk', 'upload_failed',
  'update_available', 'update_ok', 'update_failed', 'update_rolled_back',
] as const;
export const AlertKindSchema = z.enum(alertKinds);
export type AlertKind = z.infer<typeof AlertKindSchema>;

export const AlertSchema = z.object({
  serverId: id,
  kind: AlertKindSchema,
  message: z.string().max(2000),
  at: z.string(),
});
export type Alert = z.infer<typeof AlertSchema>;

export const BackupProgressSchema = z.object({
  serverId: id,
  jobId: z.string().max(128),
  phase: z.enum(['saving', 'settling', 'archiving', 'uploading', 'verifying', 'retention', 'downloading', 'stopping', 'extracting', 'swapping', 'starting', 'done']),
  bytesDone: z.number().nonnegative(),
  bytesTotal: z.number().nonnegative().nullable(),
  target: z.string().optional(),
});
export type BackupProgress = z.infer<typeof BackupProgressSchema>;

export const RestoreOutcomeSchema = z.object({
  serverId: id,
  backupId: z.string(),
  ok: z.boolean(),
  preRestoreBackupId: z.string().nullable(),
  rolledBack: z.boolean(),
  message: z.string().max(2000),
  at: z.string(),
});

export const BackupRemovedSchema = z.object({ serverId: id, backupId: z.string(), target: z.string().nullable() });

/**
 * Event topics. `state` topics are newest-wins and carry no seq; `record` topics
 * go through the agent's on-disk outbox, carry a seq and are acked by the hub.
 */
export const eventTopics = {
  status: { kind: 'state', data: ServerStatusSchema },
  'backup.progress': { kind: 'state', data: BackupProgressSchema },
  alert: { kind: 'record', data: AlertSchema },
  'backup.completed': { kind: 'record', data: BackupRecordSchema },
  'backup.updated': { kind: 'record', data: BackupRecordSchema },
  'backup.removed': { kind: 'record', data: BackupRemovedSchema },
  'restore.completed': { kind: 'record', data: RestoreOutcomeSchema },
  'update.state': { kind: 'record', data: UpdateStateRecordSchema },
  'update.progress': { kind: 'state', data: UpdateProgressSchema },
} as const;

export type EventTopic = keyof typeof eventTopics;
export type EventData<T extends EventTopic> = z.infer<(typeof eventTopics)[T]['data']>;
export type RecordTopic = { [K in EventTopic]: (typeof eventTopics)[K]['kind'] extends 'record' ? K : never }[EventTopic];
export type StateTopic = Exclude<EventTopic, RecordTopic>;

export function isRecordTopic(topic: EventTopic): topic is RecordTopic {
  return eventTopics[topic].kind === 'record';
}
