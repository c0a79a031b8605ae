import assert from 'node:assert/strict';
import { test } from 'node:test';
import { updateSteps } from '../../../protocol/index.ts';
import { FakeAgent, newToken, startHub, summary, tempDir } from '../helpers.ts';

/** Everything the agent sent before is handled once a record sent after it is acked (one socket, in order). */
async function settled(agent: FakeAgent, seq: number): Promise<void> {
  agent.send({ type: 'evt', seq, topic: 'alert', data: { serverId: 's1', kind: 'recovered', message: `sync ${seq}`, at: new Date().toISOString() } });
  await agent.next((f) => f.type === 'ack' && f.seq === seq);
}

test('an agent that keeps switching update steps gets a bounded number of audit rows (the audit log is never pruned)', async (t) => {
  const tmp = await tempDir();
  const hub = await startHub(tmp.dir);
  const { agent } = await FakeAgent.online(hub, 'a1', newToken(hub, 'a1'), [summary('s1')]);
  t.after(async () => { agent.close(); await hub.close(); await tmp.cleanup(); });
  const progress = (step: (typeof updateSteps)[number], n: number) =>
    agent.send({ type: 'evt', topic: 'update.progress', data: { serverId: 's1', step, message: `step ${n}`, percent: null, at: new Date().toISOString() } });
  const stepRows = () => hub.store.audit.recent(10_000, 's1').filter((e) => e.action === 'update.step');

  // A normal update: every step once, each audited.
  const normal = updateSteps.filter((s) => s !== 'rollback' && s !== 'done');
  normal.forEach((s, i) => progress(s, i));
  progress('done', 99);
  await settled(agent, 1);
  assert.equal(stepRows().length, normal.length + 1, 'each step of a normal update is audited');

  // A hostile one: 5,000 switches between two steps.
  for (let i = 0; i < 5000; i++) progress(i % 2 ? 'download' : 'confirm', i);
  await settled(agent, 2);
  const rows = stepRows().slice(0, -(normal.length + 1)); // newest first: this update's rows
  const max = updateSteps.length * 2;
  assert.equal(rows.length, max + 1, `${max} steps and one row saying the rest is not audited, got ${rows.length}`);
  assert.match(rows[0]!.detail ?? '', /further steps of this update are not audited/);
  assert.equal(rows[0]!.outcome, 'denied');

  // The next update (after this one ends) is audited again.
  progress('done', 0);
  progress('check', 1);
  await settled(agent, 3);
  assert.match(stepRows()[0]!.detail ?? '', /^check: step 1/);
});
