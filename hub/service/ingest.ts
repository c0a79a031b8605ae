import type { RecordEvt } from '../link/session.ts';
import type { Store } from '../store/index.ts';
import type { AuditEntry } from '../store/audit.ts';
import { redactDeep } from '../../lib/rclone-redact.ts';
import { eventForEffect } from '../events/derive.ts';
import type { RecordEffect } from './record-effect.ts';
import type { AuditAllowance } from './audit-quota.ts';

/** What the record's own audit row may be (audit-quota.ts); absent: always written. */
export type AuditGate = (serverId: string) => { allowance: AuditAllowance; until: string };

export interface IngestResult {
  accepted: boolean;
  /** Cumulative seq to ack: everything up to here is stored. */
  ackedSeq: number;
  effect: RecordEffect | null;
}

/**
 * Stores one record event and its effect in one transaction. A seq at or
 * below the agent's watermark is a re-send after a lost ack: acked again,
 * applied never.
 */
export function ingestRecord(store: Store, agentId: string, received: RecordEvt, at: string, owns: (serverId: string) => boolean = () => true, gate?: AuditGate): IngestResult {
  // Agents redact credentials before sending; one of another version may not (or not by today's rclone list), and the store outlives it.
  const evt = { ...received, data: redactDeep(received.data) } as RecordEvt;
  return store.transaction((): IngestResult => {
    const acked = store.agents.ackedSeq(agentId);
    if (evt.seq <= acked) return { accepted: false, ackedSeq: acked, effect: null };
    store.agents.ensure(agentId, at);
    store.events.insert(agentId, evt.seq, evt.topic, evt.data, at);
    // An agent speaks only for its own servers: a record about another agent's server is kept (and acked) but has no effect.
    const effect = owns(evt.data.serverId) ? applyEffect(store, agentId, evt, at, gate) : null;
    // The event (API, stream, webhooks) commits with the record: an acked outcome always has its event.
    const event = effect ? eventForEffect(agentId, effect, at) : null;
    if (event) store.hubEvents.append(event);
    store.agents.raiseAckedSeq(agentId, evt.seq);
    return { accepted: true, ackedSeq: evt.seq, effect };
  }, 'record');
}

function applyEffect(store: Store, agentId: string, evt: RecordEvt, at: string, gate: AuditGate | undefined): RecordEffect {
  /** The record's audit row, unless the server's quota is used up (then one row saying so, once). */
  const audit = (entry: Omit<AuditEntry, 'at'>) => {
    const g = gate?.(entry.serverId ?? '') ?? { allowance: 'ok', until: at };
    if (g.allowance === 'over') return;
    store.audit.append(g.allowance === 'ok' ? { ...entry, at } : {
      at, actor: entry.actor, action: entry.action, serverId: entry.serverId, outcome: 'denied',
      detail: `agent ${agentId} reported more outcomes for this server than are audited per hour; further ones are stored but not audited until ${g.until}`,
    });
  };
  switch (evt.topic) {
    case 'alert':
      return { kind: 'alert', alert: evt.data };
    case 'backup.completed':
    case 'backup.updated':
      store.backups.upsert(agentId, evt.data);
      return { kind: 'backupRecorded', record: evt.data, completed: evt.topic === 'backup.completed' };
    case 'backup.removed': {
      const remaining = store.backups.removeDestination(evt.data.serverId, evt.data.backupId, evt.data.target);
      return { kind: 'backupRemoved', serverId: evt.data.serverId, backupId: evt.data.backupId, remaining };
    }
    case 'restore.completed':
      audit({
        actor: { kind: 'system', id: agentId },
        action: 'restore.completed',
        serverId: evt.data.serverId,
        outcome: evt.data.ok ? 'ok' : 'error',
        detail: `backup ${evt.data.backupId}${evt.data.rolledBack ? ' (rolled back)' : ''}: ${evt.data.message}`,
      });
      return { kind: 'restoreCompleted', outcome: evt.data };
    case 'update.state': {
      const { serverId, event, ...info } = evt.data;
      store.updates.upsert(agentId, serverId, info, at);
      if (event === 'outcome' && info.last) {
        audit({
          actor: { kind: 'system', id: agentId },
          action: 'update.completed',
          serverId,
          outcome: info.last.outcome === 'updated' || info.last.outcome === 'up_to_date' ? 'ok' : 'error',
          detail: `${info.last.outcome} ${info.last.from ?? '?'} → ${info.last.to ?? '?'} at step ${info.last.step}: ${info.last.message}`,
        });
      }
      return { kind: 'updateState', record: evt.data };
    }
  }
}
