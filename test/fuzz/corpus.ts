/** Valid protocol frames of every type and topic: the seeds the frame fuzzers mutate. */
import { PROTOCOL_MAJOR, eventTopics, isRecordTopic, type BackupRecord, type EventData, type EventTopic, type Frame, type ServerStatus } from '../../protocol/index.ts';

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
    ...evtFrames(),
  ];
}

const updateInfo = { appId: 896660, branch: 'public', installedBuild: '1', latestBuild: '2', available: true, checkedAt: at, last: null };

/**
 * One valid payload per event topic. Typed by protocol's topic list, so a topic added to
 * protocol/events.ts fails typechecking here until it has a sample (the fuzzers and the
 * hub's record-topic test then cover it).
 */
export const topicSamples: { [T in EventTopic]: EventData<T> } = {
  status: sampleStatus,
  'backup.progress': { serverId: 'valheim-main', jobId: 'j1', phase: 'archiving', bytesDone: 10, bytesTotal: 100 },
  alert: { serverId: 'valheim-main', kind: 'crashed', message: 'exit code 1', at },
  'backup.completed': sampleBackup,
  'backup.updated': { ...sampleBackup, locked: true },
  'backup.removed': { serverId: 'valheim-main', backupId: sampleBackup.id, target: null },
  'restore.completed': { serverId: 'valheim-main', backupId: sampleBackup.id, ok: true, preRestoreBackupId: null, rolledBack: false, message: 'restored', at },
  'update.state': { ...updateInfo, serverId: 'valheim-main', event: 'available' },
  'update.progress': { serverId: 'valheim-main', step: 'download', message: 'downloading', percent: 40, at },
};

/** An evt frame per topic, in protocol's order; record topics numbered 1, 2, … */
function evtFrames(): Frame[] {
  let seq = 0;
  return (Object.keys(eventTopics) as EventTopic[]).map((topic) =>
    ({ type: 'evt', topic, seq: isRecordTopic(topic) ? ++seq : undefined, data: topicSamples[topic] }) as Frame);
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
