import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import type { BackupRecord } from '../../../protocol/index.ts';
import type { Hub } from '../../../hub/hub.ts';
import { FakeAgent, backup, newToken, signal, startHub, status, summary, tempDir, waitFor } from '../helpers.ts';

async function ack(agent: FakeAgent, seq: number) {
  const f = await agent.next((x) => x.type === 'ack');
  assert.deepEqual(f, { type: 'ack', seq });
}

describe('record events', () => {
  it('are stored once per seq, acked cumulatively, and remembered across a hub restart', async () => {
    const t = await tempDir();
    let hub: Hub | undefined = await startHub(t.dir);
    try {
      const token = newToken(hub, 'box-1');
      const { agent } = await FakeAgent.online(hub, 'box-1', token, [summary('s1')]);
      const alerts: unknown[] = [];
      hub.service.on('alert', (a) => alerts.push(a));
      const alert = { serverId: 's1', kind: 'crashed', message: 'boom', at: new Date().toISOString() };
      agent.send({ type: 'evt', seq: 1, topic: 'alert', data: alert });
      await ack(agent, 1);
      agent.send({ type: 'evt', seq: 2, topic: 'backup.completed', data: backup('b1', 's1', '2024-01-01T00:00:00.000Z') });
      await ack(agent, 2);
      // A re-send after a lost ack: acked again (with the watermark), applied never.
      agent.send({ type: 'evt', seq: 1, topic: 'alert', data: alert });
      await ack(agent, 2);
      assert.equal(alerts.length, 1);
      assert.deepEqual(alerts[0], { ...alert, agentId: 'box-1' });
      assert.equal(hub.store.events.list('box-1').length, 2);
      assert.match(await hub.metrics.registry.metrics(), /reconsync_record_events_total\{topic="alert",outcome="duplicate"\} 1/);
      agent.close();
      await hub.close();

      hub = await startHub(t.dir);
      const again = await FakeAgent.online(hub, 'box-1', token, [summary('s1')]);
      assert.equal(again.welcome.ackedSeq, 2);
      again.agent.send({ type: 'evt', seq: 2, topic: 'backup.completed', data: backup('b1', 's1', '2024-01-01T00:00:00.000Z') });
      await ack(again.agent, 2);
      again.agent.send({ type: 'evt', seq: 3, topic: 'backup.completed', data: backup('b2', 's1', '2024-01-02T00:00:00.000Z', ['local', 'remote:x']) });
      await ack(again.agent, 3);
      assert.deepEqual(hub.service.listBackups('s1').map((b) => b.id), ['b2', 'b1']);
      again.agent.close();
    } finally {
      await hub?.close();
      await t.cleanup();
    }
  });

  it('maintain the backup catalog: updated replaces, removed drops a destination, then the row', async () => {
    const t = await tempDir();
    const hub = await startHub(t.dir);
    try {
      const { agent } = await FakeAgent.online(hub, 'box-1', newToken(hub, 'box-1'), [summary('s1')]);
      const recorded = once(hub.service, 'backupRecorded', { signal: signal() });
      agent.send({ type: 'evt', seq: 1, topic: 'backup.completed', data: backup('b1', 's1', '2024-01-01T00:00:00.000Z', ['local']) });
      const [rec] = (await recorded) as [BackupRecord & { agentId: string }];
      assert.equal(rec.agentId, 'box-1');
      await ack(agent, 1);
      const updated = { ...backup('b1', 's1', '2024-01-01T00:00:00.000Z', ['local', 'r:bucket']), locked: true };
      agent.send({ type: 'evt', seq: 2, topic: 'backup.updated', data: updated });
      await ack(agent, 2);
      assert.deepEqual(hub.service.listBackups('s1'), [updated]);
      // The view falls back to the catalog for lastBackup when the status has none.
      assert.deepEqual(hub.service.getServer('s1').lastBackup, { id: 'b1', createdAt: '2024-01-01T00:00:00.000Z', size: 1234, verified: true });

      agent.send({ type: 'evt', seq: 3, topic: 'backup.removed', data: { serverId: 's1', backupId: 'b1', target: 'local' } });
      await ack(agent, 3);
      assert.deepEqual(hub.service.listBackups('s1')[0]?.destinations.map((d) => d.target), ['r:bucket']);
      agent.send({ type: 'evt', seq: 4, topic: 'backup.removed', data: { serverId: 's1', backupId: 'b1', target: 'r:bucket' } });
      await ack(agent, 4);
      assert.deepEqual(hub.service.listBackups('s1'), []);

      const restored = once(hub.service, 'restoreCompleted', { signal: signal() });
      agent.send({ type: 'evt', seq: 5, topic: 'restore.completed', data: { serverId: 's1', backupId: 'b1', ok: true, preRestoreBackupId: 'pre', rolledBack: false, message: 'done', at: new Date().toISOString() } });
      await restored;
      await ack(agent, 5);
      assert.equal(hub.service.recentAudit(1)[0]?.action, 'restore.completed');
      agent.close();
    } finally {
      await hub.close();
      await t.cleanup();
    }
  });
});

describe('state events', () => {
  it('status is newest-wins, updates the server view, and survives a restart as a snapshot', async () => {
    const t = await tempDir();
    let hub = await startHub(t.dir);
    try {
      const token = newToken(hub, 'box-1');
      const { agent } = await FakeAgent.online(hub, 'box-1', token, [summary('s1')]);
      assert.equal(hub.service.getServer('s1').state, 'unknown');
      const views: string[] = [];
      hub.service.on('server', (v) => views.push(`${v.id}:${v.state}`));
      const newer = status('s1', { state: 'running', updatedAt: '2024-01-01T00:00:10.000Z' });
      agent.send({ type: 'evt', topic: 'status', data: newer });
      await waitFor(() => hub.service.getServer('s1').state === 'running');
      agent.send({ type: 'evt', topic: 'status', data: status('s1', { state: 'crashed', updatedAt: '2024-01-01T00:00:05.000Z' }) });
      // Prove the stale one was processed (and dropped) by sending a later frame and waiting for it.
      agent.send({ type: 'evt', topic: 'backup.progress', data: { serverId: 's1', jobId: 'j', phase: 'archiving', bytesDone: 1, bytesTotal: 2 } });
      await waitFor(() => hub.service.backupProgress('s1'));
      assert.equal(hub.service.getServer('s1').state, 'running');
      assert.deepEqual(views, ['s1:running']);
      const view = hub.service.getServer('s1');
      assert.deepEqual(
        { id: view.id, agentId: view.agentId, game: view.game, name: view.name, players: view.players, map: view.map, version: view.version, updatedAt: view.updatedAt },
        { id: 's1', agentId: 'box-1', game: 'valheim', name: 'Server s1', players: newer.players, map: 'Dedicated', version: '0.219', updatedAt: newer.updatedAt },
      );
      agent.close();
      await waitFor(() => hub.service.getServer('s1').state === 'unknown');
      assert.equal(hub.service.getServer('s1').lastKnownState, 'running');
      await hub.close();

      hub = await startHub(t.dir);
      const s = hub.service.getServer('s1');
      assert.deepEqual([s.agentOnline, s.lastKnownState, s.updatedAt], [false, 'running', newer.updatedAt]);
    } finally {
      await hub.close();
      await t.cleanup();
    }
  });

  it('a hello without a server forgets it; status from another connected agent for the same id is ignored', async () => {
    const t = await tempDir();
    const hub = await startHub(t.dir);
    try {
      const tokenA = newToken(hub, 'box-a');
      const a = await FakeAgent.online(hub, 'box-a', tokenA, [summary('shared'), summary('gone')]);
      const b = await FakeAgent.online(hub, 'box-b', newToken(hub, 'box-b'), [summary('shared')]);
      assert.equal(hub.service.getServer('shared').agentId, 'box-a');
      b.agent.send({ type: 'evt', topic: 'status', data: status('shared') });
      b.agent.send({ type: 'req', id: 'sync', method: 'hub.ping', params: {}, timeoutMs: 1000 });
      await b.agent.next((f) => f.type === 'res');
      assert.equal(hub.service.getServer('shared').agentId, 'box-a');
      assert.equal(hub.service.getServer('shared').state, 'unknown');
      // Nor may it write another agent's backup catalog: acked (so its outbox drains), but no effect.
      b.agent.send({ type: 'evt', seq: 1, topic: 'backup.completed', data: backup('fake', 'shared', '2024-01-01T00:00:00.000Z') });
      assert.deepEqual(await b.agent.next((f) => f.type === 'ack'), { type: 'ack', seq: 1 });
      assert.deepEqual(hub.service.listBackups('shared'), []);
      a.agent.close();
      await waitFor(() => !hub.link.registry.get('box-a'));
      const a2 = await FakeAgent.online(hub, 'box-a', tokenA, [summary('shared')]);
      assert.throws(() => hub.service.getServer('gone'), { code: 'UNKNOWN_SERVER' });
      a2.agent.close();
      b.agent.close();
    } finally {
      await hub.close();
      await t.cleanup();
    }
  });
});
