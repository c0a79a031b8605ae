import type { Alert, BackupRecord, EventData } from '../../protocol/index.ts';

/**
 * What a stored record means for the rest of the hub; emitted only after the transaction
 * committed. Its own module because ingest.ts makes it and both the report sink and
 * hub/events/derive.ts read it: in ingest.ts it tied ingest and derive (which ingest calls)
 * into a loop.
 */
export type RecordEffect =
  | { kind: 'alert'; alert: Alert }
  | { kind: 'backupRecorded'; record: BackupRecord; completed: boolean }
  | { kind: 'backupRemoved'; serverId: string; backupId: string; remaining: BackupRecord | null }
  | { kind: 'restoreCompleted'; outcome: EventData<'restore.completed'> }
  | { kind: 'updateState'; record: EventData<'update.state'> };
