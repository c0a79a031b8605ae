// What one agent's reports may make the hub store. Records are never refused or lost (each is acked,
// stored and has its effect), but the raw delivery log keeps each agent's newest records only, and the
// audit rows an agent's own outcomes add per server are bounded: the audit log is never pruned.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuditQuota } from '../../../hub/service/audit-quota.ts';
import { FakeAgent, backup, newToken, startHub, summary, tempDir } from '../helpers.ts';

test('AuditQuota: so many rows per server and window, then one saying so, then none; a new window starts afresh', () => {
  let now = 0;
  const q = new AuditQuota(() => now, { rowsPerWindow: 3, windowMs: 1000 });
  assert.deepEqual([1, 2, 3, 4, 5].map(() => q.take('s1')), ['ok', 'ok', 'ok', 'last', 'over']);
  assert.equal(q.take('s2'), 'ok', 'per server');
  assert.equal(q.windowEnd('s1'), 1000);
  now = 1000;
  assert.equal(q.take('s1'), 'ok');
});

test('a flood of restore outcomes: every record is acked and announced, its audit rows stop at the quota; the delivery log keeps the newest', async (t) => {
  const tmp = await tempDir();
  const hub = await startHub(tmp.dir, { records: { kept: 20, trimEvery: 10 } });
  const { agent } = await FakeAgent.online(hub, 'a1', newToken(hub, 'a1'), [summary('s1')]);
  t.after(async () => { agent.close(); await hub.close(); await tmp.cleanup(); });
  const N = 50;
  for (let seq = 1; seq <= N; seq++) {
    agent.send({ type: 'evt', seq, topic: 'restore.completed', data: { serverId: 's1', backupId: `b${seq}`, ok: true, preRestoreBackupId: null, rolledBack: false, message: 'restored', at: new Date().toISOString() } });
  }
  await agent.next((f) => f.type === 'ack' && f.seq === N, 15_000);
  const rows = hub.store.audit.recent(1000, 's1').filter((e) => e.action === 'restore.completed');
  assert.equal(rows.length, 31, '30 outcomes and one row saying the rest is not audited');
  assert.equal(rows[0]!.outcome, 'denied');
  assert.match(rows[0]!.detail ?? '', /more outcomes for this server than are audited per hour; further ones are stored but not audited until /);
  const announced = hub.store.hubEvents.list({ since: 0, limit: 1000 }).filter((e) => e.serverId === 's1' && e.kind.startsWith('restore'));
  assert.equal(announced.length, N, 'every outcome is an event (API, stream, webhooks)');
  const kept = hub.store.events.list('a1', 0, 1000).map((r) => r.seq);
  assert.ok(kept.length >= 20 && kept.length < 30, `the newest records kept, older trimmed: ${kept.length}`);
  assert.equal(kept.at(-1), N);
  assert.equal(kept[0], N - kept.length + 1, 'the newest ones, contiguous');
});

test('a flood of backup records for its own server: the catalog keeps the newest rows (what the API shows), the rest is trimmed', async (t) => {
  const tmp = await tempDir();
  const hub = await startHub(tmp.dir, { records: { catalogKept: 20, trimEvery: 10 } });
  const { agent } = await FakeAgent.online(hub, 'a1', newToken(hub, 'a1'), [summary('s1')]);
  t.after(async () => { agent.close(); await hub.close(); await tmp.cleanup(); });
  const N = 50;
  const at = (i: number) => new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString();
  for (let seq = 1; seq <= N; seq++) agent.send({ type: 'evt', seq, topic: 'backup.completed', data: backup(`b${seq}`, 's1', at(seq)) });
  await agent.next((f) => f.type === 'ack' && f.seq === N, 15_000);
  const listed = hub.service.listBackups('s1').map((b) => b.id);
  assert.ok(listed.length >= 20 && listed.length < 30, `newest kept, older trimmed: ${listed.length}`);
  assert.deepEqual(listed.slice(0, 3), ['b50', 'b49', 'b48'], 'newest first, the newest kept');
  assert.equal(listed.at(-1), `b${N - listed.length + 1}`, 'contiguous: only the oldest went');
});
