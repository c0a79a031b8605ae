// One agent token must not be able to keep the hub's one thread and its disk busy for everyone:
// every frame is parsed, validated and often written to SQLite. Over its inbound budget an agent's
// socket is read more slowly (TCP pushes back); nothing it sent is dropped, and its link stays up.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InboundBudget } from '../../../hub/link/inbound-budget.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { FakeAgent, newToken, startHub, status, summary, tempDir } from '../helpers.ts';

test('InboundBudget: a burst goes through, then each frame or byte over it costs its refill time', async () => {
  const clock = new FakeClock();
  const budget = new InboundBudget({ framesPerSecond: 100, frameBurst: 10, bytesPerSecond: 1000, byteBurst: 5000 }, clock);
  for (let i = 0; i < 10; i++) assert.equal(budget.spend(1), 0, `frame ${i} of the burst`);
  assert.equal(budget.spend(1), 10, 'one frame over: 1/100 s');
  await clock.advance(10);
  assert.equal(budget.spend(1), 10, 'the refill paid the debt, not the next frame');
  await clock.advance(1000);
  assert.equal(budget.spend(1), 0, 'refilled (never above the burst)');
  assert.equal(budget.spend(6000), 1001, 'bytes over the burst (4999 left, 6000 spent) paid at 1000/s');
});

test('an agent flooding the hub is read more slowly, not cut: every frame it sent is handled, in order', async (t) => {
  const tmp = await tempDir();
  const hub = await startHub(tmp.dir, { link: { inboundFramesPerSecond: 400, inboundFrameBurst: 50 } });
  const { agent } = await FakeAgent.online(hub, 'a1', newToken(hub, 'a1'), [summary('s1')]);
  t.after(async () => { agent.close(); await hub.close(); await tmp.cleanup(); });
  const seen: number[] = [];
  hub.service.on('server', (v) => { if (v.id === 's1') seen.push(v.players.online); });
  const FLOOD = 600;
  const t0 = Date.now();
  // Each newer than the last (the hub keeps only newer statuses): how many arrive, and in which order, shows.
  for (let i = 1; i <= FLOOD; i++) agent.send({ type: 'evt', topic: 'status', data: status('s1', { players: { online: i % 100, max: 100, names: [] }, updatedAt: new Date(t0 + i).toISOString() }) });
  agent.send({ type: 'evt', seq: 1, topic: 'alert', data: { serverId: 's1', kind: 'recovered', message: 'after the flood', at: new Date().toISOString() } });
  await agent.next((f) => f.type === 'ack' && f.seq === 1, 30_000);
  assert.equal(seen.length, FLOOD, 'every status was applied');
  assert.deepEqual(seen.slice(-3), [(FLOOD - 2) % 100, (FLOOD - 1) % 100, FLOOD % 100], 'in order');
  assert.match(await hub.metrics.registry.metrics(), /reconsync_link_inbound_paused_total [1-9]/, 'the socket was paused');
  assert.equal(hub.link.registry.get('a1')?.phase, 'open', 'the link stayed up');
});

test("answers to the hub's own calls do not count against the agent's budget (a fan-out or a burst of calls is not slowed)", async (t) => {
  const tmp = await tempDir();
  const hub = await startHub(tmp.dir, { link: { inboundFramesPerSecond: 1, inboundFrameBurst: 3 } });
  const { agent } = await FakeAgent.online(hub, 'a1', newToken(hub, 'a1'), [summary('s1')]);
  t.after(async () => { agent.close(); await hub.close(); await tmp.cleanup(); });
  agent.serve(() => ({ now: 42 }));
  // 1 frame/s: charged, 200 answers would take minutes and trip the 10 s RPC deadline.
  const answers = await Promise.all(Array.from({ length: 200 }, () => hub.service.router.call({ agentId: 'a1' }, 'agent.ping', {})));
  assert.equal(answers.length, 200);
  assert.doesNotMatch(await hub.metrics.registry.metrics(), /reconsync_link_inbound_paused_total [1-9]/);
});
