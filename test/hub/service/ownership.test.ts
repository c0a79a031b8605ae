// Issue 10 §2 "Server hijack": a server id belongs to the agent that first
// registered it, also while that agent is offline and across hub restarts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Hub } from '../../../hub/hub.ts';
import type { HubAlert } from '../../../hub/service/types.ts';
import { Store } from '../../../hub/store/index.ts';
import { migrate, migrations } from '../../../hub/store/migrations.ts';
import Sqlite from 'better-sqlite3';
import path from 'node:path';
import { API_TOKEN, FakeAgent, backup, newToken, startHub, status, summary, tempDir, waitFor } from '../helpers.ts';

const auth = { Authorization: `Bearer ${API_TOKEN}` };

/** Frames are handled in order: once the ping is answered, everything sent before it was processed. */
async function sync(agent: FakeAgent, id: string): Promise<void> {
  agent.send({ type: 'req', id, method: 'hub.ping', params: {}, timeoutMs: 5000 });
  await agent.next((f) => f.type === 'res' && f.id === id);
}

async function ack(agent: FakeAgent, seq: number): Promise<void> {
  assert.deepEqual(await agent.next((f) => f.type === 'ack'), { type: 'ack', seq });
}

function api(hub: Hub, path: string, init: RequestInit = {}) {
  return fetch(`${hub.url}/api/v1${path}`, { ...init, headers: { ...auth, ...(init.headers as Record<string, string>) } });
}

const post = (hub: Hub, path: string, body: unknown = {}) => api(hub, path, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });

describe('server ownership', () => {
  it('another agent claiming an offline agent\'s server is refused for that server only: status, records and RPCs stay with the owner', async () => {
    const t = await tempDir();
    let hub = await startHub(t.dir);
    try {
      const tokenB = newToken(hub, 'box-b');
      const tokenZ = newToken(hub, 'box-z');
      // B registers vh, reports a real backup and a status, then goes offline.
      const b = await FakeAgent.online(hub, 'box-b', tokenB, [summary('vh')]);
      b.agent.send({ type: 'evt', topic: 'status', data: status('vh', { state: 'running', updatedAt: '2024-01-01T00:00:00.000Z' }) });
      b.agent.send({ type: 'evt', seq: 1, topic: 'backup.completed', data: backup('real', 'vh', '2024-01-01T00:00:00.000Z') });
      await ack(b.agent, 1);
      b.agent.close();
      await waitFor(() => !hub.service.listAgents().find((a) => a.id === 'box-b')?.connected, 5000, 'box-b offline');

      const alerts: HubAlert[] = [];
      hub.service.on('alert', (a) => alerts.push(a));
      const z = await FakeAgent.online(hub, 'box-z', tokenZ, [summary('vh'), summary('z1')]);
      const rpcs: string[] = [];
      z.agent.serve((method) => {
        rpcs.push(method);
        return method === 'server.stop' ? { state: 'stopped', graceful: true } : { backupId: 'x', preRestoreBackupId: null, from: 'local' };
      });

      // Refused for vh, logged, audited and alerted; Z's own server works.
      assert.equal(hub.service.getServer('vh').agentId, 'box-b');
      assert.equal(hub.service.getServer('z1').agentId, 'box-z');
      assert.deepEqual(hub.service.listAgents().find((a) => a.id === 'box-z')?.servers, ['z1']);
      const conflict = hub.service.recentAudit(10).find((e) => e.action === 'server.conflict');
      assert.ok(conflict, 'conflict audited');
      assert.deepEqual([conflict.serverId, conflict.outcome, conflict.actor.id], ['vh', 'denied', 'box-z']);
      assert.match(conflict.detail ?? '', /belongs to agent "box-b"/);
      assert.deepEqual(alerts.map((a) => [a.kind, a.serverId, a.agentId]), [['server_conflict', 'vh', 'box-z']]);

      // Status about vh: dropped.
      z.agent.send({ type: 'evt', topic: 'status', data: status('vh', { state: 'crashed', updatedAt: '2099-01-01T00:00:00.000Z' }) });
      z.agent.send({ type: 'evt', topic: 'backup.progress', data: { serverId: 'vh', jobId: 'j', phase: 'archiving', bytesDone: 1, bytesTotal: 2 } });
      await sync(z.agent, 'p1');
      assert.equal(hub.service.getServer('vh').lastKnownState, 'running');
      assert.equal(hub.service.backupProgress('vh'), null);

      // Records about vh: acked (Z's outbox drains) and dropped; B's catalog is untouched.
      z.agent.send({ type: 'evt', seq: 1, topic: 'backup.completed', data: backup('fake', 'vh', '2099-01-01T00:00:00.000Z') });
      await ack(z.agent, 1);
      z.agent.send({ type: 'evt', seq: 2, topic: 'backup.removed', data: { serverId: 'vh', backupId: 'real', target: null } });
      await ack(z.agent, 2);
      z.agent.send({ type: 'evt', seq: 3, topic: 'backup.updated', data: { ...backup('real', 'vh', '2024-01-01T00:00:00.000Z'), destinations: [] } });
      await ack(z.agent, 3);
      z.agent.send({ type: 'evt', seq: 4, topic: 'alert', data: { serverId: 'vh', kind: 'crashed', message: 'fake', at: new Date().toISOString() } });
      await ack(z.agent, 4);
      z.agent.send({ type: 'evt', seq: 5, topic: 'restore.completed', data: { serverId: 'vh', backupId: 'real', ok: true, preRestoreBackupId: null, rolledBack: false, message: 'fake', at: new Date().toISOString() } });
      await ack(z.agent, 5);
      assert.deepEqual(hub.service.listBackups('vh').map((r) => [r.id, r.destinations.length]), [['real', 1]]);
      assert.equal(alerts.length, 1, 'no alert from a non-owner');
      assert.equal(hub.service.recentAudit(50).filter((e) => e.action === 'restore.completed').length, 0);
      // Z's records about its own server still count.
      z.agent.send({ type: 'evt', seq: 6, topic: 'backup.completed', data: backup('z-own', 'z1', '2024-03-01T00:00:00.000Z') });
      await ack(z.agent, 6);
      assert.deepEqual(hub.service.listBackups('z1').map((r) => r.id), ['z-own']);

      // API actions on vh go to its owner (offline), never to Z.
      const stop = await post(hub, '/servers/vh/actions/stop');
      assert.equal(stop.status, 503);
      assert.equal(((await stop.json()) as { error: { code: string } }).error.code, 'AGENT_OFFLINE');
      const restore = await post(hub, '/servers/vh/restore', { backupId: 'real' });
      assert.equal(restore.status, 503);
      assert.deepEqual(rpcs, []);

      // A reconnect loop neither floods the audit log nor re-alerts; it is still refused.
      z.agent.close();
      await waitFor(() => !hub.link.registry.get('box-z'));
      const z2 = await FakeAgent.online(hub, 'box-z', tokenZ, [summary('vh'), summary('z1')]);
      assert.equal(hub.service.getServer('vh').agentId, 'box-b');
      assert.equal(hub.service.recentAudit(50).filter((e) => e.action === 'server.conflict').length, 1);
      assert.equal(alerts.length, 1);
      z2.agent.close();
      await waitFor(() => !hub.link.registry.get('box-z'));

      // Ownership is stored: after a hub restart, Z connecting first still does not get vh.
      await hub.close();
      hub = await startHub(t.dir);
      const z3 = await FakeAgent.online(hub, 'box-z', tokenZ, [summary('vh'), summary('z1')]);
      assert.equal(hub.service.getServer('vh').agentId, 'box-b');
      z3.agent.send({ type: 'evt', topic: 'status', data: status('vh', { state: 'crashed', updatedAt: '2099-01-01T00:00:00.000Z' }) });
      await sync(z3.agent, 'p2');
      assert.equal(hub.service.getServer('vh').lastKnownState, 'running');

      // The owner comes back: its status and records are taken as before.
      const b2 = await FakeAgent.online(hub, 'box-b', tokenB, [summary('vh')]);
      b2.agent.send({ type: 'evt', topic: 'status', data: status('vh', { state: 'stopped', updatedAt: '2024-01-02T00:00:00.000Z' }) });
      b2.agent.send({ type: 'evt', seq: 2, topic: 'backup.completed', data: backup('real-2', 'vh', '2024-01-02T00:00:00.000Z') });
      await ack(b2.agent, 2);
      assert.equal(hub.service.getServer('vh').state, 'stopped');
      assert.deepEqual(hub.service.listBackups('vh').map((r) => r.id), ['real-2', 'real']);
      b2.agent.close();
      z3.agent.close();
    } finally {
      await hub.close();
      await t.cleanup();
    }
  });

  it('DELETE /api/v1/servers/{id} frees the id (audited); the next agent that lists it owns it', async () => {
    const t = await tempDir();
    const hub = await startHub(t.dir);
    try {
      const tokenB = newToken(hub, 'box-b');
      const b = await FakeAgent.online(hub, 'box-b', tokenB, [summary('vh')]);
      b.agent.send({ type: 'evt', seq: 1, topic: 'backup.completed', data: backup('old', 'vh', '2024-01-01T00:00:00.000Z') });
      await ack(b.agent, 1);
      b.agent.close();
      await waitFor(() => !hub.link.registry.get('box-b'));
      const tokenZ = newToken(hub, 'box-z');
      (await FakeAgent.online(hub, 'box-z', tokenZ, [summary('vh')])).agent.close();
      await waitFor(() => !hub.link.registry.get('box-z'));
      assert.equal(hub.service.getServer('vh').agentId, 'box-b');

      const res = await api(hub, '/servers/vh', { method: 'DELETE' });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { ok: true, result: { serverId: 'vh', formerOwner: 'box-b', backups: 1 } });
      assert.throws(() => hub.service.getServer('vh'), { code: 'UNKNOWN_SERVER' });
      const audit = hub.service.recentAudit(1)[0]!;
      assert.deepEqual([audit.action, audit.serverId, audit.outcome, audit.actor.kind], ['server.forget', 'vh', 'ok', 'api']);

      const z = await FakeAgent.online(hub, 'box-z', tokenZ, [summary('vh')]);
      assert.equal(hub.service.getServer('vh').agentId, 'box-z');
      z.agent.serve(() => ({ state: 'stopped', graceful: true }));
      const stop = await post(hub, '/servers/vh/actions/stop');
      assert.equal(stop.status, 200);
      // The former owner is now the one refused.
      const b2 = await FakeAgent.online(hub, 'box-b', tokenB, [summary('vh')]);
      assert.equal(hub.service.getServer('vh').agentId, 'box-z');

      const missing = await api(hub, '/servers/nope', { method: 'DELETE' });
      assert.equal(missing.status, 404);
      assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'UNKNOWN_SERVER');
      assert.deepEqual(hub.service.recentAudit(1).map((e) => [e.action, e.outcome]), [['server.forget', 'error']]);
      z.agent.close();
      b2.agent.close();
    } finally {
      await hub.close();
      await t.cleanup();
    }
  });

  it('DELETE /api/v1/agents/{id} closes its session (4001), revokes its token, frees its servers (audited)', async () => {
    const t = await tempDir();
    const hub = await startHub(t.dir);
    try {
      const token = newToken(hub, 'box-old');
      const { agent } = await FakeAgent.online(hub, 'box-old', token, [summary('s1'), summary('s2')]);
      const res = await api(hub, '/agents/box-old', { method: 'DELETE' });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { ok: true, result: { agentId: 'box-old', servers: ['s1', 's2'], tokensRevoked: 1, backups: 0 } });
      assert.equal((await agent.waitClosed()).code, 4001);
      assert.deepEqual(hub.service.listAgents().map((a) => a.id), []);
      assert.deepEqual(hub.service.listServers(), []);
      assert.equal(hub.store.owners.ownerOf('s1'), null);
      const again = new FakeAgent(hub.agentUrl, token);
      assert.equal((await again.waitClosed()).code, 1006, 'the token no longer opens a session');
      const audit = hub.service.recentAudit(1)[0]!;
      assert.deepEqual([audit.action, audit.outcome, audit.actor.kind], ['agent.forget', 'ok', 'api']);
      assert.match(audit.detail ?? '', /box-old: servers s1, s2; 1 token\(s\) revoked/);
      const missing = await api(hub, '/agents/box-old', { method: 'DELETE' });
      assert.equal(missing.status, 404);
      assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'UNKNOWN_AGENT');
    } finally {
      await hub.close();
      await t.cleanup();
    }
  });

  it('records and status about a server nobody registered yet are dropped: no squatting before the owner arrives', async () => {
    const t = await tempDir();
    const hub = await startHub(t.dir);
    try {
      const z = await FakeAgent.online(hub, 'box-z', newToken(hub, 'box-z'), [summary('z1')]);
      z.agent.send({ type: 'evt', topic: 'status', data: status('future', { state: 'crashed' }) });
      z.agent.send({ type: 'evt', seq: 1, topic: 'backup.completed', data: backup('planted', 'future', '2099-01-01T00:00:00.000Z') });
      await ack(z.agent, 1);
      assert.throws(() => hub.service.getServer('future'), { code: 'UNKNOWN_SERVER' });
      const b = await FakeAgent.online(hub, 'box-b', newToken(hub, 'box-b'), [summary('future')]);
      assert.equal(hub.service.getServer('future').agentId, 'box-b');
      assert.equal(hub.service.getServer('future').lastKnownState, 'unknown');
      assert.deepEqual(hub.service.listBackups('future'), []);
      b.agent.close();
      z.agent.close();
    } finally {
      await hub.close();
      await t.cleanup();
    }
  });

  it('one agent cannot claim server ids without end: past 256 owned (listed or not), new ids are refused and alerted; forgetting frees room', async () => {
    const t = await tempDir();
    const hub = await startHub(t.dir);
    try {
      const token = newToken(hub, 'box-z');
      const many = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => summary(`${prefix}${i}`));
      const first = await FakeAgent.online(hub, 'box-z', token, many('a', 256));
      first.agent.close();
      await waitFor(() => !hub.service.listServers().some((s) => s.agentOnline));
      const alerts: HubAlert[] = [];
      hub.service.on('alert', (a) => alerts.push(a));
      // Reconnects with ids it never ran: each hello could claim 256 more.
      const second = await FakeAgent.online(hub, 'box-z', token, [summary('a0'), ...many('b', 3)]);
      await sync(second.agent, 'p1');
      assert.equal(hub.store.owners.countOf('box-z'), 256, 'no new id owned');
      assert.equal(hub.store.owners.ownerOf('b0'), null, 'the id stays free for whoever really runs it');
      assert.equal(hub.service.getServer('a0').agentId, 'box-z', 'ids it already owns are unaffected');
      assert.deepEqual(alerts.map((a) => [a.kind, a.serverId]), [['server_conflict', 'b0'], ['server_conflict', 'b1'], ['server_conflict', 'b2']]);
      assert.match(alerts[0]!.message, /already owns 256 server ids .*reconsync server forget/);
      second.agent.close();
      // An operator forgets one it no longer runs: the next hello may claim one new id.
      assert.equal((await api(hub, '/servers/a255', { method: 'DELETE' })).status, 200);
      const third = await FakeAgent.online(hub, 'box-z', token, many('b', 2));
      await sync(third.agent, 'p2');
      assert.deepEqual([hub.store.owners.ownerOf('b0'), hub.store.owners.ownerOf('b1')], ['box-z', null]);
      third.agent.close();
    } finally {
      await hub.close();
      await t.cleanup();
    }
  });

  it('an RPC answer naming another server is not stored (backup create and lock)', async () => {
    const t = await tempDir();
    const hub = await startHub(t.dir);
    try {
      const b = await FakeAgent.online(hub, 'box-b', newToken(hub, 'box-b'), [summary('vh')]);
      const z = await FakeAgent.online(hub, 'box-z', newToken(hub, 'box-z'), [summary('z1')]);
      // Z owns z1 and is asked about it, but answers with a record about B's vh.
      z.agent.serve((method) => ({ ...backup('fake', 'vh', '2099-01-01T00:00:00.000Z'), locked: method === 'backup.lock' }));
      const created = await post(hub, '/servers/z1/actions/backup');
      assert.equal(created.status, 500);
      assert.match(((await created.json()) as { error: { message: string } }).error.message, /answered for server "vh" when asked about "z1"/);
      const locked = await post(hub, '/servers/z1/backups/fake/lock');
      assert.equal(locked.status, 500);
      assert.deepEqual(hub.service.listBackups('vh'), []);
      assert.deepEqual(hub.service.listBackups('z1'), []);
      b.agent.close();
      z.agent.close();
    } finally {
      await hub.close();
      await t.cleanup();
    }
  });

  it('a store from before ownership was kept gets owners: the first enrolled agent listing a server', async () => {
    const t = await tempDir();
    try {
      const db = new Sqlite(path.join(t.dir, 'hub.sqlite'));
      migrate(db, migrations.filter((m) => m.version === 1));
      const insert = db.prepare('INSERT INTO agents (id, servers, created_at) VALUES (?, ?, ?)');
      insert.run('box-z', JSON.stringify([summary('vh'), summary('z1')]), '2024-02-01T00:00:00.000Z');
      insert.run('box-b', JSON.stringify([summary('vh')]), '2024-01-01T00:00:00.000Z');
      insert.run('box-bad', '{not json', '2023-01-01T00:00:00.000Z');
      db.close();
      const store = Store.open(t.dir);
      try {
        assert.deepEqual(store.owners.list().map((o) => [o.serverId, o.agentId]), [['vh', 'box-b'], ['z1', 'box-z']]);
      } finally {
        store.close();
      }
    } finally {
      await t.cleanup();
    }
  });
});
