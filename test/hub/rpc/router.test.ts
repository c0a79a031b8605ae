import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ReconSyncError } from '../../../protocol/index.ts';
import type { Hub } from '../../../hub/hub.ts';
import { FakeAgent, NO_ANSWER, newToken, startHub, tempDir, waitFor } from '../helpers.ts';

async function rejectsWith(p: Promise<unknown>, code: string): Promise<ReconSyncError> {
  const err = await p.then(
    () => assert.fail(`expected ${code}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ReconSyncError, String(err));
  assert.equal(err.code, code, err.message);
  return err;
}

describe('hub RPC router', () => {
  let hub: Hub;
  let cleanup: () => Promise<void>;
  before(async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    hub = await startHub(t.dir);
  });
  after(async () => {
    await hub.close();
    await cleanup();
  });

  it('round trip by agent id and by server id, validated against the method registry', async () => {
    const { agent } = await FakeAgent.online(hub, 'box-1', newToken(hub, 'box-1'));
    const seen: unknown[] = [];
    agent.serve((method, params) => {
      seen.push([method, params]);
      if (method === 'agent.ping') return { now: 42 };
      if (method === 'server.start') return { state: 'starting' };
      return NO_ANSWER;
    });
    assert.deepEqual(await hub.service.router.call({ agentId: 'box-1' }, 'agent.ping', {}), { now: 42 });
    assert.deepEqual(await hub.service.router.call({ serverId: 'box-1-s1' }, 'server.start', { serverId: 'box-1-s1' }), { state: 'starting' });
    assert.deepEqual(seen, [['agent.ping', {}], ['server.start', { serverId: 'box-1-s1' }]]);
    const metrics = await hub.metrics.registry.metrics();
    assert.match(metrics, /reconsync_rpc_total\{method="agent.ping",outcome="ok"\} 1/);
    assert.match(metrics, /reconsync_rpc_duration_seconds_count\{method="server.start"\} 1/);
    agent.close();
    await waitFor(() => !hub.link.registry.get('box-1'));
  });

  it('a malformed result from the agent is an error, not a crash', async () => {
    // Its own agent id: one agent has one token, and box-1 has one already.
    const { agent } = await FakeAgent.online(hub, 'box-bad-result', newToken(hub, 'box-bad-result'), []);
    agent.serve(() => ({ now: 'not a number' }));
    await rejectsWith(hub.service.router.call({ agentId: 'box-bad-result' }, 'agent.ping', {}), 'INTERNAL');
    agent.close();
    await waitFor(() => !hub.link.registry.get('box-bad-result'));
  });

  it('AGENT_OFFLINE at once when no session, UNKNOWN_SERVER for a server nobody reported', async () => {
    const t0 = performance.now();
    await rejectsWith(hub.service.router.call({ agentId: 'nobody' }, 'agent.ping', {}), 'AGENT_OFFLINE');
    // box-1 said hello earlier and left: its server is known, its agent is offline.
    await rejectsWith(hub.service.router.call({ serverId: 'box-1-s1' }, 'server.start', { serverId: 'box-1-s1' }), 'AGENT_OFFLINE');
    await rejectsWith(hub.service.router.call({ serverId: 'nope' }, 'server.start', { serverId: 'nope' }), 'UNKNOWN_SERVER');
    assert.ok(performance.now() - t0 < 200);
    assert.match(await hub.metrics.registry.metrics(), /reconsync_rpc_total\{method="agent.ping",outcome="AGENT_OFFLINE"\} 1/);
  });

  it('TIMEOUT when the agent does not answer, and the agent is told to cancel', async () => {
    const { agent } = await FakeAgent.online(hub, 'box-2', newToken(hub, 'box-2'));
    agent.serve(() => NO_ANSWER);
    await rejectsWith(hub.service.router.call({ agentId: 'box-2' }, 'agent.ping', {}, { timeoutMs: 100 }), 'TIMEOUT');
    const cancel = await agent.next((f) => f.type === 'cancel');
    assert.equal(cancel.type, 'cancel');
    agent.close();
  });

  it('DISCONNECTED when the socket closes mid-call', async () => {
    const { agent } = await FakeAgent.online(hub, 'box-3', newToken(hub, 'box-3'));
    const call = hub.service.router.call({ agentId: 'box-3' }, 'agent.ping', {}, { timeoutMs: 10_000 });
    await agent.next((f) => f.type === 'req');
    agent.close();
    await rejectsWith(call, 'DISCONNECTED');
  });

  it('cancel through an AbortSignal: CANCELLED here, a cancel frame to the agent', async () => {
    const { agent } = await FakeAgent.online(hub, 'box-4', newToken(hub, 'box-4'));
    const ctrl = new AbortController();
    const call = hub.service.router.call({ agentId: 'box-4' }, 'agent.ping', {}, { signal: ctrl.signal });
    const req = await agent.next((f) => f.type === 'req');
    ctrl.abort();
    await rejectsWith(call, 'CANCELLED');
    const cancel = await agent.next((f) => f.type === 'cancel');
    assert.equal(cancel.type === 'cancel' && req.type === 'req' && cancel.id === req.id, true);
    agent.close();
  });

  it('the agent can call the hub (hub.ping) and unknown methods are refused', async () => {
    const { agent } = await FakeAgent.online(hub, 'box-5', newToken(hub, 'box-5'));
    agent.send({ type: 'req', id: 'p1', method: 'hub.ping', params: {}, timeoutMs: 1000 });
    const res = await agent.next((f) => f.type === 'res' && f.id === 'p1');
    assert.ok(res.type === 'res' && res.ok && typeof (res.result as { now: number }).now === 'number');
    agent.send({ type: 'req', id: 'p2', method: 'server.start', params: {}, timeoutMs: 1000 });
    const res2 = await agent.next((f) => f.type === 'res' && f.id === 'p2');
    assert.ok(res2.type === 'res' && !res2.ok && res2.error.code === 'UNKNOWN_METHOD');
    agent.close();
  });

  it('keeps calls apart when several agents answer at once', async () => {
    const agents = await Promise.all(['c1', 'c2', 'c3'].map(async (id) => (await FakeAgent.online(hub, id, newToken(hub, id))).agent));
    agents.forEach((a, i) => a.serve(() => ({ now: i })));
    const results = await Promise.all(['c1', 'c2', 'c3'].flatMap((id) => Array.from({ length: 20 }, () => hub.service.router.call({ agentId: id }, 'agent.ping', {}))));
    assert.deepEqual(results.map((r) => r.now), [...Array(20).fill(0), ...Array(20).fill(1), ...Array(20).fill(2)]);
    for (const a of agents) a.close();
  });
});
