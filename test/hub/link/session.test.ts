import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { CloseCode, HEARTBEAT_MS } from '../../../protocol/index.ts';
import type { Hub } from '../../../hub/hub.ts';
import { Store } from '../../../hub/store/index.ts';
import { revokeToken } from '../../../hub/tokens.ts';
import { FakeAgent, newToken, signal, startHub, summary, tempDir, waitFor } from '../helpers.ts';

describe('hub sessions', () => {
  let hub: Hub;
  let dataDir: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    dataDir = t.dir;
    hub = await startHub(t.dir, { revocationPollMs: 100 });
  });
  after(async () => {
    await hub.close();
    await cleanup();
  });

  it('answers hello with welcome and lists the agent as connected', async () => {
    const token = newToken(hub, 'box-1');
    const online = once(hub.service, 'agentOnline', { signal: signal() });
    const { agent, welcome } = await FakeAgent.online(hub, 'box-1', token);
    assert.deepEqual(await online, ['box-1']);
    assert.equal(welcome.heartbeatMs, HEARTBEAT_MS);
    assert.equal(welcome.ackedSeq, 0);
    assert.match(welcome.sessionId, /^[0-9a-f-]{36}$/);
    const [a1] = hub.service.listAgents();
    assert.deepEqual([a1?.id, a1?.connected, a1?.version, a1?.servers], ['box-1', true, '0.1.0-test', ['box-1-s1']]);
    const offline = once(hub.service, 'agentOffline', { signal: signal() });
    agent.close();
    assert.deepEqual(await offline, ['box-1']);
    const [a2] = hub.service.listAgents();
    assert.equal(a2?.connected, false);
    assert.ok(a2?.lastSeen);
  });

  it('closes 4002 when hello claims another agent id', async () => {
    const token = newToken(hub, 'box-2');
    const a = await FakeAgent.connect(hub, token);
    a.send({ type: 'hello', agentId: 'box-3', agentVersion: 'x', protocol: 1, servers: [], capabilities: [] });
    assert.equal((await a.waitClosed()).code, CloseCode.BadHello);
    assert.equal(hub.link.registry.get('box-3'), undefined);
  });

  it('a second connection of the same agent replaces the first (4000) without an offline blip', async () => {
    const token = newToken(hub, 'box-4');
    const first = await FakeAgent.online(hub, 'box-4', token);
    let offline = 0;
    const onOffline = () => offline++;
    hub.service.on('agentOffline', onOffline);
    const second = await FakeAgent.online(hub, 'box-4', token, [summary('box-4-s1'), summary('box-4-s2')]);
    const closed = await first.agent.waitClosed();
    assert.equal(closed.code, CloseCode.Replaced);
    assert.equal(hub.link.registry.get('box-4')?.id, second.welcome.sessionId);
    assert.deepEqual(hub.service.listAgents().find((a) => a.id === 'box-4')?.servers, ['box-4-s1', 'box-4-s2']);
    assert.equal(offline, 0);
    hub.service.off('agentOffline', onOffline);
    second.agent.close();
  });

  it('a token revoked by another process (separate store handle) closes the live session with 4001 within seconds', async () => {
    const token = newToken(hub, 'box-5');
    const { agent } = await FakeAgent.online(hub, 'box-5', token);
    const cli = Store.open(dataDir); // what `reconsync token revoke` does
    const started = Date.now();
    try {
      assert.equal(revokeToken(cli, 'box-5'), 1);
    } finally {
      cli.close();
    }
    const closed = await agent.waitClosed();
    assert.equal(closed.code, CloseCode.Revoked);
    assert.ok(Date.now() - started < 3000, `closed after ${Date.now() - started} ms`);
    // And the token no longer opens a socket.
    const again = new FakeAgent(hub.agentUrl, token);
    const [, res] = (await once(again.ws, 'unexpected-response', { signal: signal() })) as [unknown, { statusCode: number }];
    assert.equal(res.statusCode, 401);
  });

  it('revoking one agent leaves the others connected', async () => {
    const tA = newToken(hub, 'box-6');
    const tB = newToken(hub, 'box-7');
    const a = await FakeAgent.online(hub, 'box-6', tA);
    const b = await FakeAgent.online(hub, 'box-7', tB);
    revokeToken(hub.store, 'box-6');
    assert.equal((await a.agent.waitClosed()).code, CloseCode.Revoked);
    assert.ok(hub.link.registry.get('box-7')?.open);
    b.agent.close();
  });
});

describe('hub heartbeats', () => {
  it('pings, and drops a peer that stays silent past deadAfterMs', async () => {
    const t = await tempDir();
    const hub = await startHub(t.dir, { heartbeatMs: 50, deadAfterMs: 300 });
    try {
      const token = newToken(hub, 'box-1');
      const { agent } = await FakeAgent.online(hub, 'box-1', token);
      await once(agent.ws, 'ping', { signal: signal() });
      // A responsive peer stays connected across several dead-after windows.
      await waitFor(() => performance.now() > 0 && hub.link.registry.get('box-1')?.lastPinged, 2000, 'a ping');
      const t0 = Date.now();
      while (Date.now() - t0 < 700) {
        await once(agent.ws, 'ping', { signal: signal() });
      }
      assert.ok(hub.link.registry.get('box-1')?.open, 'a peer answering pings must stay');
      // Stop reading: no pongs, no frames. The hub must give up on it.
      agent.ws.pause();
      const gone = await waitFor(() => hub.link.registry.get('box-1') === undefined, 5000, 'the silent peer to be dropped');
      assert.ok(gone);
      agent.close();
    } finally {
      await hub.close();
      await t.cleanup();
    }
  });
});
