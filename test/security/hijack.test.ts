// Issue 10 §2 as reported: agent Z, with its own valid token, says hello
// claiming agent B's server while B is offline. Both are real AgentLinks
// (outbox on disk, real sockets), the hub is real, the API is called over HTTP.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { join } from 'node:path';
import { test } from 'node:test';
import { AgentLink } from '../../agent/link/link.ts';
import type { HubAlert } from '../../hub/service/types.ts';
import { API_TOKEN, backup, newToken, startHub, status, tempDir, waitFor } from '../hub/helpers.ts';
import { MemoryLog } from './helpers.ts';

const server = (id: string) => ({ id, game: 'valheim', name: `Server ${id}`, managed: true });

test('a second agent cannot take over an offline agent\'s server: status, records and API calls stay with the owner; the claim is logged, audited and alerted', { timeout: 60_000 }, async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const log = new MemoryLog();
  const hub = await startHub(join(dir, 'hub'), { logger: log.logger('hub') });
  t.after(() => hub.close());
  const api = (path: string, body: unknown) =>
    fetch(`${hub.url}/api/v1${path}`, { method: 'POST', body: JSON.stringify(body), headers: { Authorization: `Bearer ${API_TOKEN}`, 'Content-Type': 'application/json' } });

  // B registers vh and records a real backup, then goes offline.
  const b = new AgentLink({ url: hub.agentUrl, token: newToken(hub, 'box-b'), agentId: 'box-b', agentVersion: 't', dataDir: join(dir, 'b'), servers: () => [server('vh')], handlers: {} });
  await Promise.all([once(b, 'connected', { signal: AbortSignal.timeout(10_000) }), b.start()]);
  b.publishState('status', status('vh', { state: 'running', updatedAt: '2024-01-01T00:00:00.000Z' }));
  await b.publishRecord('backup.completed', backup('real', 'vh', '2024-01-01T00:00:00.000Z'));
  await waitFor(() => b.pendingRecords === 0 && hub.service.getServer('vh').lastKnownState === 'running', 10_000, 'B delivered');
  await b.close();
  await waitFor(() => !hub.link.registry.get('box-b'), 5000, 'B offline');

  const alerts: HubAlert[] = [];
  hub.service.on('alert', (a) => alerts.push(a));
  const zCalls: string[] = [];
  const z = new AgentLink({
    url: hub.agentUrl,
    token: newToken(hub, 'box-z'),
    agentId: 'box-z',
    agentVersion: 't',
    dataDir: join(dir, 'z'),
    servers: () => [server('vh'), server('z1')],
    handlers: {
      'server.stop': async () => (zCalls.push('server.stop'), { state: 'stopped', graceful: true }),
      'backup.restore': async (p) => (zCalls.push('backup.restore'), { backupId: p.backupId, preRestoreBackupId: null, from: 'local' }),
    },
  });
  t.after(() => z.close());
  await Promise.all([once(z, 'connected', { signal: AbortSignal.timeout(10_000) }), z.start()]);

  // Z reports a crash, a backup dated 2099 and the removal of B's real backup, all about vh; and a backup of its own z1.
  z.publishState('status', status('vh', { name: 'mine now', state: 'crashed', updatedAt: '2099-01-01T00:00:00.000Z' }));
  await z.publishRecord('backup.completed', backup('fake', 'vh', '2099-01-01T00:00:00.000Z'));
  await z.publishRecord('backup.removed', { serverId: 'vh', backupId: 'real', target: null });
  await z.publishRecord('alert', { serverId: 'vh', kind: 'gave_up', message: 'spoofed', at: new Date().toISOString() });
  await z.publishRecord('backup.completed', backup('own', 'z1', '2024-05-01T00:00:00.000Z'));
  // Refused records are acked, so Z's outbox drains instead of re-sending forever.
  await waitFor(() => z.pendingRecords === 0, 10_000, 'Z outbox drained');
  await waitFor(() => hub.service.listBackups('z1').length === 1, 5000, 'Z\'s own backup recorded');

  const vh = hub.service.getServer('vh');
  assert.deepEqual([vh.agentId, vh.name, vh.lastKnownState, vh.updatedAt], ['box-b', 'Server vh', 'running', '2024-01-01T00:00:00.000Z']);
  assert.deepEqual(hub.service.listBackups('vh').map((r) => r.id), ['real']);
  assert.equal(hub.service.getServer('z1').agentId, 'box-z');
  assert.deepEqual(alerts.map((a) => [a.kind, a.serverId, a.agentId]), [['server_conflict', 'vh', 'box-z']]);
  assert.match(alerts[0]!.message, /belongs to agent "box-b".*server forget vh/);
  const audit = hub.service.recentAudit(20).filter((e) => e.action === 'server.conflict');
  assert.deepEqual(audit.map((e) => [e.serverId, e.outcome, e.actor.id]), [['vh', 'denied', 'box-z']]);
  const logged = log.lines().filter((l) => l.msg === 'server id belongs to another agent; refused for this agent (its other servers are unaffected)');
  assert.deepEqual(logged.map((l) => [l.agentId, l.serverId, l.owner]), [['box-z', 'vh', 'box-b']]);

  // API calls for vh route to its owner (offline), never to Z.
  const stop = await api('/servers/vh/actions/stop', {});
  assert.equal(stop.status, 503);
  assert.equal(((await stop.json()) as { error: { code: string } }).error.code, 'AGENT_OFFLINE');
  const restore = await api('/servers/vh/restore', { backupId: 'real' });
  assert.equal(restore.status, 503);
  assert.deepEqual(zCalls, []);
});
