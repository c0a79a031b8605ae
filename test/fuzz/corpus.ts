/** Valid protocol frames of every type and topic: the seeds the frame fuzzers mutate. */
import { PROTOCOL_MAJOR, type BackupRecord, type Frame, type ServerStatus } from '../../protocol/index.ts';

const at = new Date(0).toISOString();

export const sampleStatus: ServerStatus = {
  id: 'valheim-main', game: 'valheim', name: 'Valheim Main', managed: true, state: 'running',
  players: { online: 2, max: 10, names: ['Ragnar', 'Lagertha'] }, map: 'Dedicated', version: '0.218.21',
  resources: { cpuPercent: 12.5, rssBytes: 1_500_000_000, diskFreeBytes: 50_000_000_000, uptimeSec: 3600 },
  lastBackup: { id: 'b1', createdAt: at, size: 1234, verified: true }, message: 'ok', updatedAt: at,
};

export const sampleBackup: BackupRecord = {
  id: '20240101T000000Z-valheim-main', serverId: 'valheim-main', game: 'valheim', createdAt: at, size: 123456,
  sha256: 'a'.repeat(64), files: 3, trigger: 'manual', note: 'before update', format: 'tar.zst', locked: false,
  destinations: [{ target: 'local', verified: true }, { target: 'remote:bucket/valheim', verified: false, error: 'timeout' }],
};

/** Frames an agent sends to the hub. */
export function agentFrames(agentId = 'box-1'): Frame[] {
  return [
    { type: 'hello', agentId, agentVersion: '0.1.0', protocol: PROTOCOL_MAJOR, servers: [{ id: 'valheim-main', game: 'valheim', name: 'Valheim', managed: true }], capabilities: ['outbox', 'cancel'] },
    { type: 'req', id: 'r-1', method: 'hub.ping', params: {}, timeoutMs: 10_000 },
    { type: 'res', id: 'r-2', ok: true, result: { now: 1_700_000_000_000 } },
    { type: 'res', id: 'r-3', ok: true, result: { servers: [sampleStatus] } },
    { type: 'res', id: 'r-4', ok: true, result: sampleBackup },
    { type: 'res', id: 'r-5', ok: false, error: { code: 'BUSY', message: 'a backup is running', retryable: true } },
    { type: 'cancel', id: 'r-6' },
    { type: 'evt', topic: 'status', seq: undefined, data: sampleStatus },
    { type: 'evt', topic: 'backup.progress', seq: undefined, data: { serverId: 'valheim-main', jobId: 'j1', phase: 'archiving', bytesDone: 10, bytesTotal: 100 } },
    { type: 'evt', topic: 'alert', seq: 1, data: { serverId: 'valheim-main', kind: 'crashed', message: 'exit code 1', at } },
    { type: 'evt', topic: 'backup.completed', seq: 2, data: sampleBackup },
    { type: 'evt', topic: 'backup.updated', seq: 3, data: { ...sampleBackup, locked: true } },
    { type: 'evt', topic: 'backup.removed', seq: 4, data: { serverId: 'valheim-main', backupId: sampleBackup.id, target: null } },
    { type: 'evt', topic: 'restore.completed', seq: 5, data: { serverId: 'valheim-main', backupId: sampleBackup.id, ok: true, preRestoreBackupId: null, rolledBack: false, message: 'restored', at } },
  ];
}

/** Frames a hub sends to an agent. */
export function hubFrames(): Frame[] {
  return [
    { type: 'welcome', sessionId: 's-1', heartbeatMs: 15_000, hubVersion: '0.1.0', ackedSeq: 0 },
    { type: 'req', id: 'h-1', method: 'agent.ping', params: {}, timeoutMs: 10_000 },
    { type: 'req', id: 'h-2', method: 'server.status', params: { serverId: 'valheim-main' }, timeoutMs: 10_000 },
    { type: 'req', id: 'h-3', method: 'server.restart', params: { serverId: 'valheim-main', warnAt: [60, 10] }, timeoutMs: 60_000 },
    { type: 'req', id: 'h-4', method: 'backup.restore', params: { serverId: 'valheim-main', backupId: 'b1', paths: ['worlds/a.db'] }, timeoutMs: 60_000 },
    { type: 'res', id: 'h-5', ok: true, result: { now: 1 } },
    { type: 'res', id: 'h-6', ok: false, error: { code: 'INTERNAL', message: 'x', retryable: false } },
    { type: 'ack', seq: 7 },
    { type: 'cancel', id: 'h-1' },
  ];
}

export function allFrames(): Frame[] {
  return [...agentFrames(), ...hubFrames()];
}
