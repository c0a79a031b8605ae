import assert from 'node:assert/strict';
import { test } from 'node:test';
import { agentMethods, encodeFrame, hubMethods, parseFrame, ReconSyncError, RpcPeer, type RpcFrame } from '../../protocol/index.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { waitFor } from '../support/wait.ts';

/** A hub-side peer whose frames go nowhere (the agent never answers), recording what it sent. */
function silentPeer(clock?: FakeClock) {
  const sent: RpcFrame[] = [];
  const peer = new RpcPeer({ outgoing: agentMethods, incoming: hubMethods, handlers: {}, timeouts: {}, ...(clock ? { clock } : {}) });
  peer.setSender((f) => {
    const parsed = parseFrame(encodeFrame(f));
    assert.ok(parsed.ok);
    sent.push(f);
    return true;
  });
  return { peer, sent };
}

test('calls with different timeouts each fail with TIMEOUT at their own deadline, and are cancelled', async () => {
  const clock = new FakeClock();
  const { peer, sent } = silentPeer(clock);
  const t0 = clock.now();
  const ended: Array<[string, number]> = [];
  const track = (name: string, p: Promise<unknown>) =>
    p.then(
      () => assert.fail(`${name} should time out`),
      (e: ReconSyncError) => {
        assert.equal(e.code, 'TIMEOUT');
        ended.push([name, clock.now() - t0]);
      },
    );
  // The long one first: the shared timer must be re-armed for the earlier deadline.
  const all = Promise.all([
    track('slow', peer.call('backup.list', { serverId: 's' }, { timeoutMs: 250 })),
    track('fast', peer.call('agent.ping', {}, { timeoutMs: 40 })),
    track('mid', peer.call('agent.ping', {}, { timeoutMs: 120 })),
  ]);
  // One timer for the three calls, armed at the earliest deadline.
  assert.deepEqual(clock.dueTimes(), [t0 + 40]);
  await clock.advance(39);
  assert.equal(ended.length, 0);
  await clock.advance(1);
  assert.deepEqual(ended, [['fast', 40]]);
  await clock.advance(79);
  assert.equal(ended.length, 1);
  await clock.advance(1);
  assert.deepEqual(ended.map(([n]) => n), ['fast', 'mid']);
  await clock.advance(129);
  assert.equal(ended.length, 2);
  await clock.advance(1);
  await all;
  assert.deepEqual(ended, [['fast', 40], ['mid', 120], ['slow', 250]]);
  assert.equal(peer.pendingCount, 0);
  assert.equal(clock.pending, 0, 'no timer left armed once every call ended');
  // Every timed-out call told the agent to stop working on it.
  const reqIds = sent.filter((f) => f.type === 'req').map((f) => f.id);
  assert.deepEqual(sent.filter((f) => f.type === 'cancel').map((f) => f.id).sort(), [...reqIds].sort());
});

test('an answered call leaves nothing that fires later, and new calls still time out', async () => {
  const clock = new FakeClock();
  let answer: ((f: RpcFrame) => void) | undefined;
  const settled: string[] = [];
  const peer = new RpcPeer({ outgoing: agentMethods, incoming: hubMethods, handlers: {}, timeouts: {}, clock, onCallSettled: (_m, outcome) => settled.push(outcome) });
  peer.setSender((f) => {
    if (f.type === 'req' && answer) queueMicrotask(() => answer?.(f));
    return true;
  });
  answer = (f) => peer.handle({ type: 'res', id: (f as { id: string }).id, ok: true, result: { now: 1 } });
  assert.deepEqual(await peer.call('agent.ping', {}, { timeoutMs: 30 }), { now: 1 });
  await clock.advance(60); // past the answered call's deadline: nothing may fire for it
  assert.deepEqual(settled, ['ok']);
  answer = undefined;
  const late = assert.rejects(peer.call('agent.ping', {}, { timeoutMs: 30 }), (e: ReconSyncError) => e.code === 'TIMEOUT');
  await clock.advance(30);
  await late;
  assert.deepEqual(settled, ['ok', 'TIMEOUT']);
});

test('request ids are unique per peer and across peers, short, and valid frame ids', async () => {
  const ids = new Set<string>();
  for (let p = 0; p < 20; p++) {
    const { peer, sent } = silentPeer();
    for (let i = 0; i < 50; i++) void peer.call('agent.ping', {}).catch(() => undefined);
    for (const f of sent) {
      assert.ok(f.type === 'req');
      assert.ok(f.id.length >= 1 && f.id.length <= 64, f.id);
      assert.ok(!ids.has(f.id), `duplicate id ${f.id}`);
      ids.add(f.id);
    }
    peer.close();
  }
  assert.equal(ids.size, 1000);
});

test('de-duplication remembers exactly the last dedupeSize request ids', async () => {
  let runs = 0;
  const sent: RpcFrame[] = [];
  const agent = new RpcPeer({ outgoing: hubMethods, incoming: agentMethods, handlers: { 'agent.ping': async () => ({ now: runs++ }) }, timeouts: {}, dedupeSize: 3 });
  agent.setSender((f) => (sent.push(f), true));
  for (const id of ['a', 'b', 'c', 'a', 'd', 'a', 'b', 'e', 'c']) {
    const before = sent.length;
    agent.handle({ type: 'req', id, method: 'agent.ping', params: {}, timeoutMs: 1000 });
    await waitFor(() => sent.length > before, { timeoutMs: 2000, everyMs: 1, what: `the answer to ${id}` });
  }
  // a (memory: 0), then d pushes a out; a and b run again; e pushes d out; c was pushed out by b.
  assert.deepEqual(sent.map((f) => (f.type === 'res' && f.ok ? `${f.id}=${(f.result as { now: number }).now}` : '?')), ['a=0', 'b=1', 'c=2', 'a=0', 'd=3', 'a=4', 'b=5', 'e=6', 'c=7']);
  assert.equal(runs, 8);
});
