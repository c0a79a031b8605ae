import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import net from 'node:net';
import { CloseCode, MAX_FRAME_BYTES, PROTOCOL_MAJOR } from '../../../protocol/index.ts';
import type { Hub } from '../../../hub/hub.ts';
import { FakeAgent, newToken, refusedUpgrade, signal, startHub, tempDir } from '../helpers.ts';

const proto = { 'X-ReconSync-Protocol': String(PROTOCOL_MAJOR) };

describe('hub upgrade checks', () => {
  let hub: Hub;
  let cleanup: () => Promise<void>;
  let token: string;
  before(async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    // A high failure budget so the 401 tests here are not throttled; throttling has its own hub below.
    hub = await startHub(t.dir, { link: { authFailuresPerMinute: 1000, malformedPerMinute: 5 } });
    token = newToken(hub, 'box-1');
  });
  after(async () => {
    await hub.close();
    await cleanup();
  });

  it('answers 401 identically for a missing and a wrong token', async () => {
    const missing = await refusedUpgrade(hub.agentUrl, proto);
    const wrong = await refusedUpgrade(hub.agentUrl, { ...proto, Authorization: `Bearer rsa_${'A'.repeat(43)}` });
    const garbage = await refusedUpgrade(hub.agentUrl, { ...proto, Authorization: 'Basic Zm9vOmJhcg==' });
    for (const r of [missing, wrong, garbage]) {
      assert.equal(r.status, 401);
      assert.equal(r.body, missing.body);
      assert.equal(r.headers['www-authenticate'], 'Bearer');
    }
    assert.equal(JSON.parse(missing.body).error.code, 'UNAUTHORIZED');
  });

  it('refuses a revoked token with the same 401', async () => {
    const t2 = newToken(hub, 'box-gone');
    hub.store.tokens.revokeAgent('box-gone', new Date().toISOString());
    const r = await refusedUpgrade(hub.agentUrl, { ...proto, Authorization: `Bearer ${t2}` });
    assert.equal(r.status, 401);
  });

  it('answers 426 for another protocol major or none at all', async () => {
    for (const p of [String(PROTOCOL_MAJOR + 1), '0', 'abc', null]) {
      const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
      if (p !== null) headers['X-ReconSync-Protocol'] = p;
      const r = await refusedUpgrade(hub.agentUrl, headers);
      assert.equal(r.status, 426, `protocol ${p}`);
      assert.equal(r.headers['x-reconsync-protocol'], String(PROTOCOL_MAJOR));
    }
  });

  it('accepts a minor version suffix of the same major', async () => {
    const a = await FakeAgent.connect(hub, token, { protocol: `${PROTOCOL_MAJOR}.3` });
    a.close();
  });

  it('refuses browser origins with 403 and other paths with 404', async () => {
    const r = await refusedUpgrade(hub.agentUrl, { ...proto, Authorization: `Bearer ${token}`, Origin: 'https://evil.example' });
    assert.equal(r.status, 403);
    const other = await refusedUpgrade(hub.agentUrl.replace('/agent', '/agents'), { ...proto, Authorization: `Bearer ${token}` });
    assert.equal(other.status, 404);
  });

  it('closes 1009 on an oversized frame, and the hub keeps serving', async () => {
    const { agent } = await FakeAgent.online(hub, 'box-1', token);
    agent.ws.send('x'.repeat(MAX_FRAME_BYTES + 1));
    assert.equal((await agent.waitClosed()).code, CloseCode.TooBig);
    const again = await FakeAgent.online(hub, 'box-1', token);
    again.agent.close();
  });

  it('survives malformed frames: logs, answers what it can, keeps the session', async () => {
    const { agent } = await FakeAgent.online(hub, 'box-1', token);
    agent.ws.send('not json');
    agent.ws.send('[1,2]');
    agent.send({ type: 'evt', topic: 'nope', data: {} });
    agent.send({ type: 'req', id: 'bad-1', method: 'hub.ping' }); // no timeoutMs
    const res = await agent.next((f) => f.type === 'res' && f.id === 'bad-1');
    assert.equal(res.type === 'res' && !res.ok && res.error.code, 'INVALID_PARAMS');
    agent.send({ type: 'req', id: 'good-1', method: 'hub.ping', params: {}, timeoutMs: 1000 });
    const ok = await agent.next((f) => f.type === 'res' && f.id === 'good-1');
    assert.ok(ok.type === 'res' && ok.ok);
    assert.ok(hub.link.registry.get('box-1')?.open);
    // Past the budget (5 a minute here) only that socket is closed, with 1002.
    for (let i = 0; i < 3; i++) agent.ws.send('{');
    assert.equal((await agent.waitClosed()).code, CloseCode.ProtocolError);
    const metrics = await hub.metrics.registry.metrics();
    assert.match(metrics, /reconsync_frames_malformed_total [1-9]/);
  });

  it('closes 4002 when the first frame is not hello, or no hello comes', async () => {
    const a = await FakeAgent.connect(hub, token);
    a.send({ type: 'ack', seq: 1 });
    assert.equal((await a.waitClosed()).code, CloseCode.BadHello);
  });
});

describe('hub upgrade limits', () => {
  let hub: Hub;
  let cleanup: () => Promise<void>;
  before(async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    hub = await startHub(t.dir, { link: { authFailuresPerMinute: 3, helloTimeoutMs: 200, maxPendingUpgrades: 2 } });
  });
  after(async () => {
    await hub.close();
    await cleanup();
  });

  it('answers 429 after a burst of failed logins from one address, even for a good token', async () => {
    const good = newToken(hub, 'box-9');
    for (let i = 0; i < 3; i++) assert.equal((await refusedUpgrade(hub.agentUrl, { ...proto, Authorization: 'Bearer nope' })).status, 401);
    const r = await refusedUpgrade(hub.agentUrl, { ...proto, Authorization: `Bearer ${good}` });
    assert.equal(r.status, 429);
    assert.ok(Number(r.headers['retry-after']) >= 1);
  });
});

describe('hub upgrade: pending cap and hello timeout', () => {
  let hub: Hub;
  let cleanup: () => Promise<void>;
  before(async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    hub = await startHub(t.dir, { link: { helloTimeoutMs: 300, maxPendingUpgrades: 2 } });
  });
  after(async () => {
    await hub.close();
    await cleanup();
  });

  it('refuses with 503 beyond the cap of silent sockets, closes them 4002 after the hello timeout', async () => {
    const token = newToken(hub, 'box-1');
    const a = await FakeAgent.connect(hub, token);
    const b = await FakeAgent.connect(hub, token);
    const r = await refusedUpgrade(hub.agentUrl, { ...proto, Authorization: `Bearer ${token}` });
    assert.equal(r.status, 503);
    assert.equal((await a.waitClosed()).code, CloseCode.BadHello);
    assert.equal((await b.waitClosed()).code, CloseCode.BadHello);
    const c = await FakeAgent.online(hub, 'box-1', token);
    c.agent.close();
  });
});

describe('hub upgrade: slow and broken clients', () => {
  it('drops a client that never finishes its headers, and survives resets', async () => {
    const t = await tempDir();
    const hub = await startHub(t.dir, { http: { headersTimeoutMs: 300 } });
    try {
      // Slowloris: headers never end. The server must hang up by itself.
      const slow = net.connect(hub.port, '127.0.0.1');
      slow.on('error', () => {});
      slow.resume();
      await once(slow, 'connect', { signal: signal() });
      slow.write('GET /agent HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n');
      const started = Date.now();
      await once(slow, 'close', { signal: signal(5000) });
      assert.ok(Date.now() - started < 4000);
      // A client that resets right after sending a full upgrade request.
      const rude = net.connect(hub.port, '127.0.0.1');
      rude.on('error', () => {});
      await once(rude, 'connect', { signal: signal() });
      rude.write('GET /agent HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
      rude.resetAndDestroy();
      const res = await fetch(`${hub.url}/healthz`);
      assert.equal(res.status, 200);
    } finally {
      await hub.close();
      await t.cleanup();
    }
  });
});
