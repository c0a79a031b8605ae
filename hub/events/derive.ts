import type { RecordEffect } from '../service/record-effect.ts';
import { kindOfAlert, type NewHubEvent } from '../../protocol/event-kinds.ts';

/**
 * The event an agent's record means, or null (progress-like records such as
 * backup.updated are no outcome). Called inside the record's transaction, so
 * a stored record and its event are written together or not at all.
 */
export function eventForEffect(agentId: string, effect: RecordEffect, at: string): NewHubEvent | null {
  switch (effect.kind) {
    case 'alert': {
      const { serverId, kind, message, at: happened } = effect.alert;
      return { at: happened || at, kind: kindOfAlert(kind), agentId, serverId, message, data: { alert: kind } };
    }
    case 'backupRecorded': {
      if (!effect.completed) return null;
      const r = effect.record;
      const where = r.destinations.map((d) => `${d.target}${d.verified ? '' : ' (unverified)'}`).join(', ');
      return {
        at: r.createdAt || at,
        kind: 'backup_ok',
        agentId,
        serverId: r.serverId,
        message: `backup ${r.id} (${r.size} bytes) stored at ${where || 'no destination'}`,
        data: { backupId: r.id, size: r.size, sha256: r.sha256, trigger: r.trigger, destinations: r.destinations },
      };
    }
    case 'restoreCompleted': {
      const o = effect.outcome;
      return {
        at: o.at || at,
        kind: o.ok ? 'restore_ok' : 'restore_failed',
        agentId,
        serverId: o.serverId,
        message: `restore of backup ${o.backupId}${o.rolledBack ? ' (rolled back)' : ''}: ${o.message}`,
        data: { backupId: o.backupId, preRestoreBackupId: o.preRestoreBackupId, rolledBack: o.rolledBack },
      };
    }
    // Update outcomes reach the hub as alerts too (update_ok, update_failed, …): one event each, from the alert.
    case 'backupRemoved':
    case 'updateState':
      return null;
  }
}
