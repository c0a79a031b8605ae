import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Hub } from '../../../hub/hub.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { SseClient } from '../../support/sse-client.ts';
import { API_TOKEN, FakeAgent, backup, newToken, startHub, summary, tempDir, waitFor } from '../helpers.ts';

const auth = { authorization: `Bearer ${API_TOKEN}` };

async function get(hub: Hub, p: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${hub.url}${p}`, { headers: auth, signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.json() };
}

let seq = 0;
async function sendRecord(agent: FakeAgent, topic: string, data: unknown): Promise<void> {
  seq += 1;
  agent.send({ type: 'evt', seq, topic, data });
  const mine = seq;
  await agent.next((f) => f.type === 'ack' && f.seq >= mine);
}

const crash = (serverId: string, message = 'exit code 1') => ({ serverId, kind: 'crashed', message, at: new Date().toISOString() });

describe('events API', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let hub: Hub;
  let agent: FakeAgent;
  const clock = new FakeClock(Date.parse('2026-01-01T00:00:00Z'));

  before(async () => {
    tmp = await tempDir();
    hub = await startHub(tmp.dir, { clock, events: { heartbeatMs: 1000 } });
    ({ agent } = await FakeAgent.online(hub, 'a1', newToken(hub, 'a1'), [summary('s1'), summary('s2')]));
  });
  after(async () => {
    agent.close();
    await hub.close();
    await tmp.cleanup();
  });

  it('stores every alert and outcome as an event, filters by server and kind, pages by cursor', async () => {
    await sendRecord(agent, 'alert', crash('s1'));
    await sendRecord(agent, 'backup.completed', backup('b1', 's2', new Date().toISOString()));
    await sendRecord(agent, 'alert', { serverId: 's2', kind: 'backup_failed', message: 'disk full', at: new Date().toISOString() });
    await sendRecord(agent, 'restore.completed', { serverId: 's1', backupId: 'b0', ok: false, preRestoreBackupId: null, rolledBack: true, message: 'bad archive', at: new Date().toISOString() });

    const all = await get(hub, '/api/v1/events');
    assert.equal(all.status, 200);
    const kinds = all.body.events.map((e: { kind: string }) => e.kind);
    // A first connection is no event (agent_online means back after agent_offline): see agent-presence.test.ts.
    assert.deepEqual(kinds, ['crash', 'backup_ok', 'backup_failed', 'restore_failed']);
    const c = all.body.events[0];
    assert.deepEqual(Object.keys(c).sort(), ['agentId', 'at', 'data', 'id', 'kind', 'message', 'serverId', 'severity']);
    assert.equal(c.severity, 'critical');
    assert.equal(c.agentId, 'a1');
    assert.equal(c.serverId, 's1');
    assert.equal(all.body.next, all.body.events.at(-1).id);

    const s2 = await get(hub, '/api/v1/events?server=s2');
    assert.deepEqual(s2.body.events.map((e: { kind: string }) => e.kind), ['backup_ok', 'backup_failed']);
    const two = await get(hub, '/api/v1/events?kind=crash,restore_failed');
    assert.deepEqual(two.body.events.map((e: { kind: string }) => e.kind), ['crash', 'restore_failed']);

    const first = await get(hub, '/api/v1/events?limit=2');
    assert.equal(first.body.events.length, 2);
    const rest = await get(hub, `/api/v1/events?since=${first.body.next}`);
    assert.deepEqual(rest.body.events.map((e: { kind: string }) => e.kind), ['backup_failed', 'restore_failed']);
    const none = await get(hub, `/api/v1/events?since=${rest.body.next}`);
    assert.deepEqual(none.body, { events: [], next: rest.body.next });
  });

  it('a re-sent record (lost ack) makes no second event', async () => {
    const before = (await get(hub, '/api/v1/events?kind=crash')).body.events.length;
    agent.send({ type: 'evt', seq: 1, topic: 'alert', data: crash('s1') });
    await agent.next((f) => f.type === 'ack');
    assert.equal((await get(hub, '/api/v1/events?kind=crash')).body.events.length, before);
  });

  it('refuses bad queries with what was expected, and bounds the page', async () => {
    const bad = await get(hub, '/api/v1/events?kind=exploded');
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /kinds are crash, restarted/);
    const unknown = await get(hub, '/api/v1/events?colour=red');
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.error.message, /takes since, server, kind, limit/);
    assert.equal((await get(hub, '/api/v1/events?since=-1')).status, 400);
    assert.equal((await get(hub, '/api/v1/events?limit=100000')).status, 200);
    const noAuth = await fetch(`${hub.url}/api/v1/events`);
    assert.equal(noAuth.status, 401);
  });

  it('GET /audit lists the newest actions first, bounded', async () => {
    await fetch(`${hub.url}/api/v1/servers/nope/actions/start`, { method: 'POST', headers: auth });
    const audit = await get(hub, '/api/v1/audit?limit=1');
    assert.equal(audit.status, 200);
    assert.equal(audit.body.length, 1);
    assert.equal(audit.body[0].action, 'server.start');
    assert.equal(audit.body[0].serverId, 'nope');
    assert.equal((await get(hub, '/api/v1/audit?limit=0')).status, 400);
  });

  it('the stream sends live events, heartbeats, and resumes after Last-Event-ID without gaps or repeats', async () => {
    const live = await SseClient.open(`${hub.url}/api/v1/events/stream`, auth);
    assert.equal(live.res.statusCode, 200);
    assert.match(String(live.res.headers['content-type']), /^text\/event-stream/);
    await live.until((f) => f.some((x) => x.comment === 'reconsync events'));
    await sendRecord(agent, 'alert', crash('s1', 'first'));
    await live.until(() => live.events().length === 1);
    const [first] = live.events();
    assert.equal(first!.kind, 'crash');
    assert.equal(first!.data.message, 'first');
    clock.advance(1000);
    await live.until((f) => f.some((x) => x.comment === 'ping'));
    live.close();

    // Missed while disconnected:
    await sendRecord(agent, 'alert', crash('s1', 'second'));
    await sendRecord(agent, 'alert', crash('s2', 'third'));
    const resumed = await SseClient.open(`${hub.url}/api/v1/events/stream?server=s1`, { ...auth, 'last-event-id': String(first!.id) });
    await resumed.until(() => resumed.events().length >= 1);
    await sendRecord(agent, 'alert', crash('s1', 'fourth'));
    await resumed.until(() => resumed.events().length >= 2);
    assert.deepEqual(resumed.events().map((e) => e.data.message), ['second', 'fourth']);
    resumed.close();
  });

  it('refuses a Last-Event-ID that is not an event id', async () => {
    const res = await fetch(`${hub.url}/api/v1/events/stream`, { headers: { ...auth, 'last-event-id': 'abc' } });
    assert.equal(res.status, 400);
  });

  it('closing the hub ends open streams', async () => {
    const tmp2 = await tempDir();
    const hub2 = await startHub(tmp2.dir);
    const s = await SseClient.open(`${hub2.url}/api/v1/events/stream`, auth);
    await s.until((f) => f.length > 0);
    await hub2.close();
    await s.ended;
    await tmp2.cleanup();
  });

  it('a reader that does not read is cut off once its buffer passes the limit', async () => {
    const tmp3 = await tempDir();
    const hub3 = await startHub(tmp3.dir, { events: { maxBufferedBytes: 64 * 1024 } });
    const s = await SseClient.open(`${hub3.url}/api/v1/events/stream`, auth);
    await s.until((f) => f.length > 0);
    s.res.pause();
    s.res.socket.pause();
    const big = 'x'.repeat(1500);
    // Far more than loopback socket buffers take: the hub must give up on this reader rather than buffer it all.
    await waitFor(() => {
      for (let i = 0; i < 200; i += 1) hub3.events.append({ at: new Date().toISOString(), kind: 'player_join', agentId: 'a', serverId: 's', message: big, data: {} });
      return hub3.events.subscribers === 0;
    }, 20_000, 'the slow stream to be dropped');
    s.close();
    await hub3.close();
    await tmp3.cleanup();
  });
});
