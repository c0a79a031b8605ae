import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Hub } from '../../../hub/hub.ts';
import { API_TOKEN, FakeAgent, NO_ANSWER, backup, newToken, startHub, status, summary, tempDir, waitFor } from '../helpers.ts';

const auth = { Authorization: `Bearer ${API_TOKEN}` };

describe('hub HTTP API', () => {
  let hub: Hub;
  let agent: FakeAgent;
  let cleanup: () => Promise<void>;
  const calls: [string, unknown][] = [];
  const api = (path: string, init: RequestInit = {}) => fetch(`${hub.url}${path}`, { ...init, headers: { ...auth, ...(init.headers as Record<string, string>) } });
  const post = (path: string, body?: unknown) =>
    api(path, { method: 'POST', ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } }) });

  before(async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    hub = await startHub(t.dir, { http: { apiAuthFailuresPerMinute: 1000 } });
    agent = (await FakeAgent.online(hub, 'box-1', newToken(hub, 'box-1'), [summary('s1'), summary('s2')])).agent;
    newToken(hub, 'box-never'); // known (has a token), never connected
    agent.serve((method, params) => {
      calls.push([method, params]);
      const p = params as { serverId: string; backupId?: string; locked?: boolean; note?: string };
      switch (method) {
        case 'server.start':
          return { state: 'starting' };
        case 'server.stop':
          if (p.serverId === 's2') throw new Error('boom');
          return { state: 'stopped', graceful: true };
        case 'server.restart':
          return { state: 'running', graceful: true };
        case 'backup.create':
          return { ...backup('b-new', p.serverId, '2024-02-01T00:00:00.000Z'), ...(p.note ? { note: p.note } : {}) };
        case 'backup.restore':
          return { backupId: p.backupId, preRestoreBackupId: 'pre-1', from: 'local' };
        case 'backup.lock':
          return { ...backup(p.backupId!, p.serverId, '2024-01-01T00:00:00.000Z'), locked: p.locked };
        default:
          return NO_ANSWER;
      }
    });
    agent.send({ type: 'evt', topic: 'status', data: status('s1', { lastBackup: { id: 'b0', createdAt: '2024-01-01T00:00:00.000Z', size: 10, verified: true } }) });
    agent.send({ type: 'evt', seq: 1, topic: 'backup.completed', data: backup('b-old', 's1', '2024-01-01T00:00:00.000Z') });
    await waitFor(() => hub.service.getServer('s1').state === 'running');
    await agent.next((f) => f.type === 'ack');
  });
  after(async () => {
    agent.close();
    await hub.close();
    await cleanup();
  });

  it('needs the bearer token; wrong and missing get the same 401', async () => {
    const missing = await fetch(`${hub.url}/api/v1/servers`);
    const wrong = await fetch(`${hub.url}/api/v1/servers`, { headers: { Authorization: 'Bearer nope-nope-nope-nope' } });
    assert.equal(missing.status, 401);
    assert.equal(wrong.status, 401);
    const [b1, b2] = [await missing.json(), await wrong.json()];
    assert.deepEqual(b1, b2);
    assert.equal((b1 as { error: { code: string } }).error.code, 'UNAUTHORIZED');
    const denied = hub.service.recentAudit(20).filter((e) => e.action === 'api.login' && e.outcome === 'denied');
    assert.equal(denied.length, 2, 'both failed logins are in the audit log');
    assert.equal(denied[0]!.actor.name, '127.0.0.1');
    assert.ok(!JSON.stringify(denied).includes('nope-nope'), 'the presented token is not recorded');
  });

  it('GET /api/v1/agents', async () => {
    const res = await api('/api/v1/agents');
    assert.equal(res.status, 200);
    const agents = (await res.json()) as { id: string; connected: boolean; version: string | null; lastSeen: string | null; servers: string[] }[];
    assert.deepEqual(
      agents.map((a) => ({ ...a, lastSeen: typeof a.lastSeen })),
      [
        { id: 'box-1', connected: true, version: '0.1.0-test', lastSeen: 'string', servers: ['s1', 's2'] },
        { id: 'box-never', connected: false, version: null, lastSeen: 'object', servers: [] },
      ],
    );
  });

  it('GET /api/v1/servers and /servers/{id} in the fixed shape', async () => {
    const list = (await (await api('/api/v1/servers')).json()) as { id: string }[];
    assert.deepEqual(list.map((s) => s.id), ['s1', 's2']);
    const res = await api('/api/v1/servers/s1');
    assert.equal(res.status, 200);
    const s = (await res.json()) as Record<string, unknown>;
    for (const key of ['id', 'agentId', 'game', 'name', 'state', 'players', 'map', 'version', 'lastBackup', 'updatedAt']) assert.ok(key in s, key);
    assert.equal(s.state, 'running');
    assert.deepEqual(s.players, { online: 2, max: 10, names: ['a', 'b'] });
    assert.deepEqual(s.lastBackup, { id: 'b0', createdAt: '2024-01-01T00:00:00.000Z', size: 10, verified: true });
    const unknown = await api('/api/v1/servers/nope');
    assert.equal(unknown.status, 404);
    assert.deepEqual(((await unknown.json()) as { ok: boolean; error: { code: string } }).error.code, 'UNKNOWN_SERVER');
  });

  it('GET /api/v1/servers/{id}/backups, newest first', async () => {
    const list = (await (await api('/api/v1/servers/s1/backups')).json()) as Record<string, unknown>[];
    assert.equal(list[0]?.id, 'b-old');
    for (const key of ['id', 'createdAt', 'size', 'sha256', 'files', 'trigger', 'destinations']) assert.ok(key in list[0]!, key);
    assert.deepEqual(list[0]?.destinations, [{ target: 'local', verified: true }]);
  });

  it('POST actions answer { ok, result } and are audited', async () => {
    let res = await post('/api/v1/servers/s1/actions/start');
    assert.deepEqual([res.status, await res.json()], [200, { ok: true, result: { state: 'starting' } }]);
    res = await post('/api/v1/servers/s1/actions/restart', { warnAt: [60, 10] });
    assert.deepEqual(await res.json(), { ok: true, result: { state: 'running', graceful: true } });
    assert.deepEqual(calls.find((c) => c[0] === 'server.restart')?.[1], { serverId: 's1', warnAt: [60, 10] });
    res = await post('/api/v1/servers/s1/actions/backup', { note: 'before update' });
    const body = (await res.json()) as { ok: boolean; result: { id: string; note: string } };
    assert.deepEqual([body.ok, body.result.id, body.result.note], [true, 'b-new', 'before update']);
    assert.deepEqual((await (await api('/api/v1/servers/s1/backups')).json() as { id: string }[]).map((b) => b.id), ['b-new', 'b-old']);
    res = await post('/api/v1/servers/s1/restore', { backupId: 'b-old', from: 'local' });
    assert.deepEqual(await res.json(), { ok: true, result: { backupId: 'b-old', preRestoreBackupId: 'pre-1', from: 'local' } });
    res = await post('/api/v1/servers/s1/backups/b-old/lock');
    assert.equal(((await res.json()) as { result: { locked: boolean } }).result.locked, true);
    res = await post('/api/v1/servers/s1/backups/b-old/unlock');
    assert.equal(((await res.json()) as { result: { locked: boolean } }).result.locked, false);

    const audit = hub.service.recentAudit(10);
    assert.deepEqual(audit.slice(0, 6).map((e) => [e.action, e.serverId, e.outcome, e.actor.kind]).reverse(), [
      ['server.start', 's1', 'ok', 'api'],
      ['server.restart', 's1', 'ok', 'api'],
      ['backup.create', 's1', 'ok', 'api'],
      ['backup.restore', 's1', 'ok', 'api'],
      ['backup.lock', 's1', 'ok', 'api'],
      ['backup.unlock', 's1', 'ok', 'api'],
    ]);
  });

  it('errors carry the catalog status and code, and failures are audited too', async () => {
    let res = await post('/api/v1/servers/s2/actions/stop');
    assert.equal(res.status, 500);
    assert.deepEqual(((await res.json()) as { ok: boolean; error: { code: string } }).error.code, 'INTERNAL');
    assert.deepEqual(hub.service.recentAudit(1)[0]?.outcome, 'error');
    res = await post('/api/v1/servers/nope/actions/start');
    assert.equal(res.status, 404);
    res = await post('/api/v1/servers/s1/actions/explode');
    assert.equal(res.status, 404);
    res = await api('/api/v1/servers/s1/actions/start');
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'POST');
  });

  it('validates bodies: JSON only, schema-checked, 64 KiB cap', async () => {
    let res = await post('/api/v1/servers/s1/restore', {});
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { error: { message: string } }).error.message, /backupId/);
    res = await post('/api/v1/servers/s1/actions/restart', { warnAt: [-1] });
    assert.equal(res.status, 400);
    res = await post('/api/v1/servers/s1/actions/start', { extra: true });
    assert.equal(res.status, 400);
    res = await api('/api/v1/servers/s1/actions/backup', { method: 'POST', body: 'note=x', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    assert.equal(res.status, 415);
    res = await api('/api/v1/servers/s1/actions/backup', { method: 'POST', body: '{nope', headers: { 'Content-Type': 'application/json' } });
    assert.equal(res.status, 400);
    res = await post('/api/v1/servers/s1/actions/backup', { note: 'x'.repeat(70 * 1024) });
    assert.equal(res.status, 413);
  });

  it('agent offline → 503 AGENT_OFFLINE', async () => {
    const other = await FakeAgent.online(hub, 'box-2', newToken(hub, 'box-2'), [summary('s9')]);
    other.agent.close();
    await waitFor(() => !hub.link.registry.get('box-2'));
    const res = await post('/api/v1/servers/s9/actions/start');
    assert.equal(res.status, 503);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'AGENT_OFFLINE');
  });

  it('/healthz and /metrics need no token', async () => {
    const h = await fetch(`${hub.url}/healthz`);
    assert.deepEqual([h.status, await h.json()], [200, { status: 'ok' }]);
    const m = await fetch(`${hub.url}/metrics`);
    assert.equal(m.status, 200);
    const text = await m.text();
    for (const name of ['reconsync_connected_agents 1', 'reconsync_rpc_total', 'reconsync_rpc_duration_seconds_bucket', 'reconsync_frames_in_total', 'reconsync_frames_out_total', 'reconsync_backups_total{outcome="ok"} 1', 'reconsync_discord_edits_total', 'reconsync_discord_rate_limited_total']) {
      assert.ok(text.includes(name), name);
    }
    const nothing = await fetch(`${hub.url}/nothing`);
    assert.equal(nothing.status, 404);
  });
});

describe('hub health', () => {
  it('/healthz is 503 when the store cannot be written', async () => {
    const t = await tempDir();
    const hub = await startHub(t.dir);
    try {
      hub.store.db.close();
      const h = await fetch(`${hub.url}/healthz`);
      assert.equal(h.status, 503);
    } finally {
      await hub.close();
      await t.cleanup();
    }
  });

  it('throttles failed API logins per address', async () => {
    const t = await tempDir();
    const hub = await startHub(t.dir, { http: { apiAuthFailuresPerMinute: 2 } });
    try {
      for (let i = 0; i < 2; i++) assert.equal((await fetch(`${hub.url}/api/v1/agents`)).status, 401);
      assert.equal((await fetch(`${hub.url}/api/v1/agents`, { headers: auth })).status, 429);
    } finally {
      await hub.close();
      await t.cleanup();
    }
  });
});
