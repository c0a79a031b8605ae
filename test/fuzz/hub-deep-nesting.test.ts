/**
 * Issue 10, defect 1: one frame nested 5 000 levels deep in `type` ended the
 * hub process (RangeError in parseFrame's JSON.stringify). A real hub gets
 * deep nesting in every slot of every frame, before and after hello, as
 * arrays and as objects; it must answer each as a malformed frame, keep
 * serving another agent, /healthz and new agents, and count the frames.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_JSON_DEPTH, PROTOCOL_MAJOR } from '../../protocol/index.ts';
import { API_TOKEN, FakeAgent, newToken, signal, startHub, tempDir, waitFor } from '../hub/helpers.ts';
import { deepJsonText } from './fuzz-kit.ts';

const DEPTHS = [5_000, 100_000];

/** Frames with `deep` (JSON text) in one slot; `answers` says the hub replies to it with INVALID_PARAMS. */
function deepFrames(deep: string): { name: string; text: string; answers?: string }[] {
  const hello = (servers: string) => `{"type":"hello","agentId":"evil","agentVersion":"1","protocol":${PROTOCOL_MAJOR},"servers":${servers},"capabilities":[]}`;
  return [
    { name: 'type', text: `{"type":${deep}}` },
    { name: 'type beside a valid req', text: `{"id":"r0","method":"hub.ping","params":{},"timeoutMs":5000,"type":${deep}}` },
    { name: 'req params', text: `{"type":"req","id":"r1","method":"hub.ping","params":${deep},"timeoutMs":5000}`, answers: 'r1' },
    { name: 'req params, one key down', text: `{"type":"req","id":"r2","method":"hub.ping","params":{"x":${deep}},"timeoutMs":5000}`, answers: 'r2' },
    { name: 'req method', text: `{"type":"req","id":"r3","method":${deep},"params":{},"timeoutMs":5000}`, answers: 'r3' },
    { name: 'res result', text: `{"type":"res","id":"x","ok":true,"result":${deep}}` },
    { name: 'res error', text: `{"type":"res","id":"x","ok":false,"error":${deep}}` },
    { name: 'evt record data', text: `{"type":"evt","topic":"backup.completed","seq":7,"data":${deep}}` },
    { name: 'evt status data', text: `{"type":"evt","topic":"status","data":{"id":"evil-s1","players":${deep}}}` },
    { name: 'evt topic', text: `{"type":"evt","topic":${deep},"seq":8,"data":{}}` },
    { name: 'ack seq', text: `{"type":"ack","seq":${deep}}` },
    { name: 'cancel id', text: `{"type":"cancel","id":${deep}}` },
    { name: 'hello servers', text: hello(deep) },
    { name: 'hello server name', text: hello(`[{"id":"evil-s1","game":"valheim","name":${deep},"managed":true}]`) },
  ];
}

const variants = DEPTHS.flatMap((depth) => [false, true].map((asObject) => ({ depth, asObject, deep: deepJsonText(depth, '1', asObject) })));

test('deep nesting in any slot of any frame is a malformed frame, and the hub keeps serving', async (t) => {
  const { dir, cleanup } = await tempDir('rs-deep-hub-');
  t.after(cleanup);
  // Each deep frame goes over a fresh session, so the malformed-frame budget (tested below) never closes one.
  const hub = await startHub(dir);
  t.after(() => hub.close());

  const good = await FakeAgent.online(hub, 'good', newToken(hub, 'good'));
  good.agent.serve(() => ({ now: Date.now() }));
  const evilToken = newToken(hub, 'evil');
  const ping = async () => assert.equal(typeof (await hub.service.router.call({ agentId: 'good' }, 'agent.ping', {}, { timeoutMs: 5_000 })).now, 'number');
  const malformed = async () => Number(/reconsync_frames_malformed_total (\d+)/.exec(await hub.metrics.registry.metrics())?.[1] ?? 0);

  for (const v of variants) {
    for (const f of deepFrames(v.deep)) {
      const label = `${f.name}, depth ${v.depth} ${v.asObject ? 'objects' : 'arrays'}`;
      // Before hello: the first frame must be a valid hello, so the hub closes this socket (and only this one).
      const early = await FakeAgent.connect(hub, evilToken);
      early.ws.send(f.text);
      assert.equal((await early.waitClosed()).code, 4002, `${label}, before hello`);

      // After hello: a malformed frame, answered when it is an identifiable request, the session stays.
      const evil = await FakeAgent.online(hub, 'evil', evilToken, []);
      const before = await malformed();
      evil.agent.ws.send(f.text);
      if (f.answers) {
        const res = await evil.agent.next((x) => x.type === 'res' && x.id === f.answers);
        assert.ok(res.type === 'res' && !res.ok, label);
        assert.equal(res.error.code, 'INVALID_PARAMS', label);
        assert.match(res.error.message, new RegExp(`nested deeper than ${MAX_JSON_DEPTH} levels`), label);
      }
      await waitFor(async () => (await malformed()) === before + 1, 5_000, `${label}: counted as malformed`);
      // The hub is still whole: the evil session answers a valid ping, the good agent serves RPCs, /healthz is ok.
      evil.agent.send({ type: 'req', id: 'p', method: 'hub.ping', params: {}, timeoutMs: 5_000 });
      const pong = await evil.agent.next((x) => x.type === 'res' && x.id === 'p');
      assert.ok(pong.type === 'res' && pong.ok, `${label}: hub.ping after the deep frame`);
      await ping();
      evil.agent.close();
      await evil.agent.closed;
    }
  }
  const health = await fetch(`${hub.url}/healthz`, { signal: signal() });
  assert.equal(health.status, 200);
  // A new agent still gets in.
  const late = await FakeAgent.online(hub, 'late', newToken(hub, 'late'));
  late.agent.close();
  good.agent.close();
});

test('a stream of deep frames is closed by the malformed-frame budget, and the hub stays up', async (t) => {
  const { dir, cleanup } = await tempDir('rs-deep-hub-');
  t.after(cleanup);
  const hub = await startHub(dir);
  t.after(() => hub.close());
  const good = await FakeAgent.online(hub, 'good', newToken(hub, 'good'));
  good.agent.serve(() => ({ now: Date.now() }));
  const evil = await FakeAgent.online(hub, 'evil', newToken(hub, 'evil'), []);
  const deep = `{"type":${deepJsonText(100_000)}}`;
  for (let i = 0; i < 50 && evil.agent.ws.readyState === evil.agent.ws.OPEN; i++) evil.agent.ws.send(deep);
  assert.equal((await evil.agent.waitClosed(10_000)).code, 1002);
  assert.equal(typeof (await hub.service.router.call({ agentId: 'good' }, 'agent.ping', {}, { timeoutMs: 5_000 })).now, 'number');
  assert.equal((await fetch(`${hub.url}/healthz`, { signal: signal() })).status, 200);
  good.agent.close();
});

test('an API body nested deeper than the limit is refused before anything walks it', async (t) => {
  const { dir, cleanup } = await tempDir('rs-deep-api-');
  t.after(cleanup);
  const hub = await startHub(dir);
  t.after(() => hub.close());
  const post = (path: string, body: string) =>
    fetch(`${hub.url}/api/v1${path}`, { method: 'POST', body, headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' }, signal: signal() });
  const bodies = [5_000, 10_000].flatMap((depth) => [
    deepJsonText(depth),
    deepJsonText(depth, '1', true),
    `{"note":${deepJsonText(depth)}}`,
    `{"backupId":"b1","paths":${deepJsonText(depth, '"x"')}}`,
  ]);
  for (const body of bodies) {
    for (const path of ['/servers/s1/actions/backup', '/servers/s1/restore', '/servers/s1/actions/restart']) {
      const res = await post(path, body);
      assert.equal(res.status, 400, `${path} ${body.slice(0, 30)}`);
      const answer = (await res.json()) as { ok: boolean; error: { code: string; message: string } };
      assert.equal(answer.error.code, 'INVALID_PARAMS');
      assert.match(answer.error.message, new RegExp(`request body nested deeper than ${MAX_JSON_DEPTH} levels`));
    }
  }
  // Past the size cap it is the size that refuses it, before reading further.
  assert.equal((await post('/servers/s1/actions/backup', deepJsonText(100_000))).status, 413);
  // Exactly at the limit is still JSON the API reads (and then finds the shape wrong).
  const atLimit = await post('/servers/s1/actions/backup', `{"note":${deepJsonText(MAX_JSON_DEPTH - 1)}}`);
  assert.equal(atLimit.status, 400);
  assert.match(((await atLimit.json()) as { error: { message: string } }).error.message, /^body note/);
  assert.equal((await fetch(`${hub.url}/healthz`, { signal: signal() })).status, 200);
});
