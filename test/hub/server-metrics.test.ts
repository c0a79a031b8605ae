import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { serverStates } from '../../protocol/index.ts';
import { FakeAgent, backup, newToken, startHub, status, summary, tempDir, waitFor } from './helpers.ts';

const dashboardFile = path.join(import.meta.dirname, '..', '..', 'deploy', 'grafana', 'reconsync-dashboard.json');

type Sample = { name: string; labels: Record<string, string>; value: number };
function samples(text: string): Sample[] {
  return text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => {
    const m = /^([a-z0-9_:]+)(?:\{(.*)\})? (\S+)$/.exec(l);
    assert.ok(m, l);
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]));
    return { name: m[1]!, labels, value: Number(m[3]) };
  });
}

const scrape = async (url: string) => (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) })).text();

test('per-server gauges carry server, agent and game, one state series per state, backup and update facts', async (t) => {
  const tmp = await tempDir();
  const hub = await startHub(tmp.dir);
  const { agent } = await FakeAgent.online(hub, 'a1', newToken(hub, 'a1'), [summary('s1'), summary('s2')]);
  t.after(async () => { agent.close(); await hub.close(); await tmp.cleanup(); });
  const createdAt = '2026-01-02T03:04:05.000Z';
  agent.send({ type: 'evt', topic: 'status', data: status('s1', { players: { online: 3, max: 10, names: ['a', 'b', 'c'] }, lastBackup: { id: 'b1', createdAt, size: 4096, verified: true } }) });
  agent.send({ type: 'evt', topic: 'status', data: status('s2', { state: 'crashed', players: { online: 0, max: 10, names: [] } }) });
  hub.store.updates.upsert('a1', 's1', { appId: 896660, branch: 'public', installedBuild: '1', latestBuild: '2', available: true, checkedAt: createdAt, last: null }, createdAt);
  agent.send({ type: 'evt', seq: 1, topic: 'backup.completed', data: backup('b2', 's2', createdAt) });
  await waitFor(() => hub.service.listServers().every((v) => v.updatedAt !== null) && hub.store.backups.list('s2').length === 1);

  const all = samples(await scrape(hub.url));
  const get = (name: string, server: string, extra: Record<string, string> = {}) =>
    all.filter((s) => s.name === name && s.labels.server === server && Object.entries(extra).every(([k, v]) => s.labels[k] === v));
  const one = (name: string, server: string, extra: Record<string, string> = {}) => {
    const hits = get(name, server, extra);
    assert.equal(hits.length, 1, `${name}{server=${server}} once`);
    assert.equal(hits[0]!.labels.agent, 'a1');
    assert.equal(hits[0]!.labels.game, 'valheim');
    return hits[0]!.value;
  };
  assert.equal(one('reconsync_server_up', 's1'), 1);
  assert.equal(one('reconsync_server_up', 's2'), 0);
  assert.equal(one('reconsync_server_players', 's1'), 3);
  assert.equal(get('reconsync_server_state', 's2').length, serverStates.length);
  assert.equal(one('reconsync_server_state', 's2', { state: 'crashed' }), 1);
  assert.equal(get('reconsync_server_state', 's2').filter((s) => s.value === 1).length, 1);
  assert.equal(one('reconsync_backup_last_success_timestamp_seconds', 's1'), Date.parse(createdAt) / 1000);
  assert.equal(one('reconsync_backup_last_size_bytes', 's1'), 4096);
  // s2 has no backup in its status: the hub's catalog answers.
  assert.equal(one('reconsync_backup_last_size_bytes', 's2'), 1234);
  assert.equal(one('reconsync_update_available', 's1'), 1);
  assert.equal(get('reconsync_update_available', 's2').length, 0, 'no update checks, no series');

  // The agent leaves: its servers are not up, their state is unknown.
  agent.close();
  await waitFor(async () => samples(await scrape(hub.url)).some((s) => s.name === 'reconsync_server_state' && s.labels.server === 's1' && s.labels.state === 'unknown' && s.value === 1));
  assert.equal(samples(await scrape(hub.url)).find((s) => s.name === 'reconsync_server_up' && s.labels.server === 's1')!.value, 0);
});

test('the Grafana dashboard only queries metrics the hub exposes, and has the panels operators look for', async (t) => {
  const dash = JSON.parse(await readFile(dashboardFile, 'utf8')) as {
    title: string; uid: string; panels: { title: string; type: string; datasource: { uid: string }; gridPos: { x: number; y: number; w: number; h: number }; targets: { expr: string; refId: string }[] }[];
    templating: { list: { name: string }[] };
  };
  const tmp = await tempDir();
  const hub = await startHub(tmp.dir);
  t.after(async () => { await hub.close(); await tmp.cleanup(); });
  const text = await scrape(hub.url);
  const families = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));

  assert.ok(dash.uid && dash.title);
  assert.deepEqual(dash.templating.list.map((v) => v.name).sort(), ['datasource', 'server']);
  const titles = dash.panels.map((p) => p.title);
  for (const want of ['Players online', 'Up / down', 'Backup age']) assert.ok(titles.includes(want), `panel "${want}"`);
  const used = new Set<string>();
  const ids = new Set<number>();
  for (const p of dash.panels) {
    assert.equal(p.datasource.uid, '${datasource}', `${p.title}: uses the datasource variable`);
    assert.ok(p.targets.length > 0, `${p.title}: has a query`);
    assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title}: fits the 24-column grid`);
    for (const target of p.targets) for (const m of target.expr.matchAll(/\breconsync_[a-z_]+/g)) used.add(m[0]);
    ids.add((p as unknown as { id: number }).id);
  }
  assert.equal(ids.size, dash.panels.length, 'panel ids are unique');
  for (const name of used) assert.ok(families.has(name), `the dashboard queries ${name}, which /metrics does not expose`);
  for (const name of ['reconsync_server_up', 'reconsync_server_players', 'reconsync_server_state', 'reconsync_backup_last_success_timestamp_seconds']) {
    assert.ok(used.has(name), `the dashboard shows ${name}`);
    assert.equal(families.get(name), 'gauge');
  }
});
