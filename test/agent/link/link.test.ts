import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { AgentLink, type AgentLinkOptions } from '../../../agent/link/link.ts';
import { Outbox } from '../../../agent/link/outbox.ts';
import { MAX_FRAME_BYTES, ReconSyncError, type Alert, type ServerStatus } from '../../../protocol/index.ts';
import { FakeHub, startSilentHub, type FakeConn, type FakeHubOptions, type Json } from './fake-hub.ts';
import { memoryLogger } from './log-sink.ts';

const TOKEN = 'agent-token-0123456789abcdef';
const SERVERS = [{ id: 'valheim-main', game: 'valheim', name: 'Valheim Main', managed: true }];

const alert = (n: number): Alert => ({ serverId: 'valheim-main', kind: 'crashed', message: `crash ${n}`, at: new Date(0).toISOString() });
const status = (id: string, online: number): ServerStatus => ({
  id, game: 'valheim', name: id, managed: true, state: 'running',
  players: { online, max: 10, names: [] }, map: null, version: null,
  resources: { cpuPercent: null, rssBytes: null, diskFreeBytes: null, uptimeSec: null },
  lastBackup: null, updatedAt: new Date(0).toISOString(),
});

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rs-link-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function newLink(t: TestContext, url: string, dataDir: string, extra: Partial<AgentLinkOptions> = {}): AgentLink {
  const link = new AgentLink({
    url,
    token: TOKEN,
    agentId: 'box-1',
    agentVersion: '0.1.0-test',
    dataDir,
    servers: () => SERVERS,
    handlers: { 'agent.ping': async () => ({ now: 42 }) },
    backoff: { baseMs: 5, capMs: 20 },
    random: () => 0.5,
    ...extra,
  });
  t.after(() => link.close());
  return link;
}

/** A fake hub, a link to it, and a 5 s deadline for every wait in the test. */
async function setup(t: TestContext, hubOpts: Partial<FakeHubOptions> = {}, linkOpts: Partial<AgentLinkOptions> = {}) {
  const hub = await FakeHub.start({ token: TOKEN, ...hubOpts });
  t.after(() => hub.close());
  const dir = await tempDir(t);
  const link = newLink(t, hub.url, dir, linkOpts);
  return { hub, link, dir, signal: AbortSignal.timeout(5_000) };
}

async function startAndConnect(link: AgentLink, hub: FakeHub, signal: AbortSignal): Promise<FakeConn> {
  const connected = once(link, 'connected', { signal });
  await link.start();
  const conn = await hub.nextConnection(signal);
  await connected;
  return conn;
}

/** Round trip through the agent: every frame it sent before the answer has arrived at the hub. */
async function ping(conn: FakeConn, id: string, signal: AbortSignal): Promise<Json> {
  conn.send({ type: 'req', id, method: 'agent.ping', params: {}, timeoutMs: 5_000 });
  return conn.take((f) => f.type === 'res' && f.id === id, signal);
}

test('dials with bearer token and protocol header, no compression, and says hello with its servers', async (t) => {
  const { hub, link, signal } = await setup(t);
  const welcomed = once(link, 'welcome', { signal });
  const conn = await startAndConnect(link, hub, signal);
  assert.equal(conn.headers.authorization, `Bearer ${TOKEN}`);
  assert.equal(conn.headers['x-reconsync-protocol'], '1');
  assert.equal(conn.headers['sec-websocket-extensions'], undefined, 'permessage-deflate stays off');
  assert.deepEqual(conn.hello, {
    type: 'hello', agentId: 'box-1', agentVersion: '0.1.0-test', protocol: 1, servers: SERVERS, capabilities: ['outbox', 'rpc.dedupe', 'cancel'],
  });
  const [welcome] = await welcomed;
  assert.equal(welcome.sessionId, 's1');
  assert.equal(link.connected, true);
  assert.equal(link.sessionId, 's1');
  assert.deepEqual(await ping(conn, 'p1', signal), { type: 'res', id: 'p1', ok: true, result: { now: 42 } });
});

test('records are re-sent after a reconnect until acked, and not after the ack', async (t) => {
  // ackedSeq 0 in every welcome: only the ack frame can tell the agent what the hub has.
  const { hub, link, signal } = await setup(t, { autoAck: false, ackedSeq: 0 });
  const conn1 = await startAndConnect(link, hub, signal);
  assert.equal(await link.publishRecord('alert', alert(1)), 1);
  assert.deepEqual(await conn1.nextRecord(signal), { type: 'evt', topic: 'alert', seq: 1, data: alert(1) });

  conn1.ws.terminate();
  const conn2 = await hub.nextConnection(signal);
  assert.equal((await conn2.nextRecord(signal)).seq, 1, 'unacked record re-sent on the new connection');
  hub.ack(conn2, 1);
  await ping(conn2, 'after-ack', signal);
  assert.equal(await link.publishRecord('alert', alert(2)), 2);
  assert.equal((await conn2.nextRecord(signal)).seq, 2);

  conn2.ws.terminate();
  const conn3 = await hub.nextConnection(signal);
  const first = await conn3.nextRecord(signal);
  assert.equal(first.seq, 2, 'the acked record 1 is not re-sent');
  assert.equal(link.pendingRecords, 1);
  hub.ack(conn3, 2);
  await ping(conn3, 'drain', signal);
  assert.equal(link.pendingRecords, 0);
  assert.equal(conn3.frames.items.filter((f) => f.type === 'evt').length, 1);
});

test('welcome.ackedSeq drops what the hub already stored; the rest goes out in order', async (t) => {
  const { hub, link, dir, signal } = await setup(t, { ackedSeq: 2 });
  const box = await Outbox.open(join(dir, 'outbox'));
  for (let i = 1; i <= 4; i++) await box.append('alert', alert(i));
  await box.close();
  const conn = await startAndConnect(link, hub, signal);
  assert.equal((await conn.nextRecord(signal)).seq, 3);
  assert.equal((await conn.nextRecord(signal)).seq, 4);
  await ping(conn, 'drain', signal);
  assert.deepEqual(conn.frames.items.filter((f) => f.type === 'evt').map((f) => f.seq), [3, 4]);
});

test('records made while the hub is away survive an agent restart and are delivered once it is back', async (t) => {
  const hub = await FakeHub.start({ token: TOKEN });
  t.after(() => hub.close());
  const dir = await tempDir(t);
  const signal = AbortSignal.timeout(5_000);
  hub.refuseWith = 503;
  const first = newLink(t, hub.url, dir);
  await first.start();
  assert.equal(await first.publishRecord('alert', alert(1)), 1);
  assert.equal(await first.publishRecord('alert', alert(2)), 2);
  await first.close();

  hub.refuseWith = undefined;
  const second = newLink(t, hub.url, dir);
  const conn = await startAndConnect(second, hub, signal);
  assert.deepEqual([(await conn.nextRecord(signal)).seq, (await conn.nextRecord(signal)).seq], [1, 2]);
  assert.equal(await second.publishRecord('alert', alert(3)), 3, 'seq continues after the restart');
  assert.equal((await conn.nextRecord(signal)).seq, 3);
});

test('the hub knowing higher seqs (agent data reset) renumbers pending records instead of losing them', async (t) => {
  const { hub, link, signal } = await setup(t, { ackedSeq: 50 });
  await link.start();
  hub.refuseWith = 503;
  await link.publishRecord('alert', alert(1));
  hub.refuseWith = undefined;
  const conn = await hub.nextConnection(signal);
  const rec = await conn.nextRecord(signal);
  assert.equal(rec.seq, 51);
  assert.deepEqual(rec.data, alert(1));
  assert.equal(await link.publishRecord('alert', alert(2)), 52);
});

test('a request id already executed is answered with its first result, across reconnects, and runs once', async (t) => {
  let calls = 0;
  const handlers: AgentLinkOptions['handlers'] = { 'agent.ping': async () => ({ now: 1000 + ++calls }) };
  const { hub, link, signal } = await setup(t, {}, { handlers });
  const conn1 = await startAndConnect(link, hub, signal);
  const req = { type: 'req', id: 'req-1', method: 'agent.ping', params: {}, timeoutMs: 5_000 };
  conn1.send(req);
  const res1 = await conn1.take((f) => f.type === 'res', signal);
  conn1.send(req);
  const res2 = await conn1.take((f) => f.type === 'res', signal);
  conn1.ws.terminate();
  const conn2 = await hub.nextConnection(signal);
  conn2.send(req);
  const res3 = await conn2.take((f) => f.type === 'res', signal);
  assert.deepEqual(res1, { type: 'res', id: 'req-1', ok: true, result: { now: 1001 } });
  assert.deepEqual(res2, res1);
  assert.deepEqual(res3, res1);
  assert.equal(calls, 1);
  assert.deepEqual((await ping(conn2, 'req-2', signal)).result, { now: 1002 });
});

test('state events are coalesced per (topic, server) while the link is down and sent on reconnect', async (t) => {
  const { hub, link, signal } = await setup(t);
  const conn1 = await startAndConnect(link, hub, signal);
  link.publishState('status', status('a', 0));
  await conn1.take((f) => f.type === 'evt' && f.topic === 'status', signal);

  hub.refuseWith = 503;
  const down = once(link, 'disconnected', { signal });
  conn1.ws.terminate();
  await down;
  assert.equal(link.connected, false);
  link.publishState('status', status('a', 1));
  link.publishState('status', status('a', 2));
  link.publishState('status', status('b', 5));
  link.publishState('backup.progress', { serverId: 'a', jobId: 'j1', phase: 'archiving', bytesDone: 1, bytesTotal: null });
  link.publishState('status', status('a', 3));
  link.publishState('backup.progress', { serverId: 'a', jobId: 'j1', phase: 'uploading', bytesDone: 9, bytesTotal: null });

  hub.refuseWith = undefined;
  const conn2 = await hub.nextConnection(signal);
  await ping(conn2, 'marker', signal);
  const states = conn2.frames.items.filter((f) => f.type === 'evt');
  assert.deepEqual(states.map((f) => [f.topic, (f.data as { id?: string; serverId?: string }).id ?? (f.data as { serverId: string }).serverId]), [
    ['status', 'a'], ['status', 'b'], ['backup.progress', 'a'],
  ]);
  assert.equal((states[0]!.data as ServerStatus).players.online, 3, 'only the newest status of a');
  assert.equal((states[2]!.data as { phase: string }).phase, 'uploading');
  assert.ok(states.every((f) => f.seq === undefined), 'state events carry no seq');

  link.publishState('status', status('a', 4));
  assert.equal(((await conn2.take((f) => f.type === 'evt', signal)).data as ServerStatus).players.online, 4, 'sent at once while connected');
  assert.throws(() => link.publishState('status', { ...status('a', 1), state: 'exploded' } as unknown as ServerStatus), ReconSyncError);
});

test('a hub that stops answering pings is declared dead and redialed', async (t) => {
  const silent = await startSilentHub();
  t.after(() => silent.close());
  const dir = await tempDir(t);
  const signal = AbortSignal.timeout(5_000);
  const link = newLink(t, silent.url, dir, { heartbeatMs: 20, deadAfterMs: 80 });
  const connected = once(link, 'connected', { signal });
  const down = once(link, 'disconnected', { signal });
  await link.start();
  await connected;
  const [info] = await down;
  assert.equal(info.end?.kind, 'dead');
  assert.ok(info.end?.kind === 'dead' && info.end.silentMs >= 80);
  assert.equal(info.reason, 'lost');
  assert.equal(typeof info.retryInMs, 'number');
  await once(link, 'connected', { signal });
  assert.ok(silent.upgrades() >= 2);
});

test('invalid frames from the hub are logged and ignored; an oversized one costs only that connection', async (t) => {
  const { logger, lines } = memoryLogger();
  const { hub, link, signal } = await setup(t, {}, { logger });
  const conn1 = await startAndConnect(link, hub, signal);
  conn1.send('not json');
  conn1.send('[1,2]');
  conn1.send({ type: 'nope' });
  conn1.send({ type: 'ack', seq: -1 });
  conn1.send({ type: 'req', id: 'bad', method: 'agent.ping', params: {}, timeoutMs: 0 });
  conn1.send({ type: 'evt', topic: 'alert', seq: 1, data: alert(1) });
  conn1.ws.send(Buffer.from([1, 2, 3]), { binary: true });
  assert.deepEqual((await ping(conn1, 'still-alive', signal)).result, { now: 42 });
  assert.equal(link.connected, true);
  const ignored = lines.filter((l) => /ignored an invalid frame/.test(l.msg));
  assert.equal(ignored.length, 7);
  assert.ok(ignored.some((l) => /not valid JSON/.test(l.msg)));
  assert.ok(ignored.some((l) => /binary/.test(l.msg)));

  conn1.send('x'.repeat(MAX_FRAME_BYTES + 1));
  const closed = await conn1.closed;
  assert.equal(closed.code, 1009, 'the agent refuses frames over maxPayload');
  const conn2 = await hub.nextConnection(signal);
  assert.deepEqual((await ping(conn2, 'back', signal)).result, { now: 42 });
});

for (const [code, reason] of [[4000, 'replaced'], [4001, 'revoked']] as const) {
  test(`close ${code} stops the link (no reconnect) with an error saying what to do`, async (t) => {
    const { logger, find } = memoryLogger();
    const { hub, link, signal } = await setup(t, {}, { logger });
    const conn = await startAndConnect(link, hub, signal);
    const stopped = once(link, 'stopped', { signal });
    const down = once(link, 'disconnected', { signal });
    conn.ws.close(code, reason);
    const [info] = await stopped;
    assert.equal(info.reason, reason);
    assert.equal((await down)[0].retryInMs, null);
    assert.equal(link.connected, false);
    const logged = find(code === 4000 ? /same id "box-1"/ : /token create box-1/);
    assert.equal(logged?.level, 50);
    await link.close();
    assert.equal(hub.upgrades, 1);
  });
}

test('an abnormal close (1006) reconnects with backoff', async (t) => {
  const { hub, link, signal } = await setup(t);
  const conn1 = await startAndConnect(link, hub, signal);
  const down = once(link, 'disconnected', { signal });
  conn1.ws.terminate();
  const [info] = await down;
  assert.deepEqual(info.end, { kind: 'close', code: 1006, reason: '' });
  assert.equal(info.reason, 'lost');
  assert.ok(info.retryInMs !== null && info.retryInMs >= 0 && info.retryInMs < 20);
  await once(link, 'connected', { signal });
  assert.equal(hub.upgrades, 2);
});

test('HTTP 401 retries slowly with a clear error and never logs the token; 426 stops', async (t) => {
  const { logger, lines, find } = memoryLogger();
  const { hub, link, signal } = await setup(t, { token: 'another-token' }, { logger, unauthorizedRetryMs: 40 });
  await link.start();
  await hub.upgradeLog.take(() => true, signal);
  await hub.upgradeLog.take(() => true, signal);
  const entry = find(/HTTP 401/);
  assert.equal(entry?.level, 50);
  assert.match(entry!.msg, /token create box-1/);
  const retry = entry!.retryInMs as number;
  assert.ok(retry >= 20 && retry <= 40, `slow retry ${retry} ms is between half and all of unauthorizedRetryMs`);
  assert.ok(!lines.some((l) => JSON.stringify(l).includes(TOKEN)), 'token never logged');

  hub.refuseWith = 426;
  const [info] = await once(link, 'stopped', { signal });
  assert.equal(info.reason, 'version-mismatch');
  assert.equal(link.connected, false);
});

test('watchdog: a connect that never opens and a hub that never welcomes are both aborted and retried', async (t) => {
  const dir = await tempDir(t);
  const signal = AbortSignal.timeout(5_000);
  // A TCP server that accepts and then says nothing: the upgrade hangs.
  const sockets: Socket[] = [];
  const tcp = createServer((s) => {
    sockets.push(s);
    tcp.emit('accepted');
  });
  tcp.listen(0, '127.0.0.1');
  await once(tcp, 'listening');
  t.after(() => {
    for (const s of sockets) s.destroy();
    tcp.close();
  });
  const { logger, find } = memoryLogger();
  const port = (tcp.address() as { port: number }).port;
  const hung = newLink(t, `ws://127.0.0.1:${port}/agent`, dir, { logger, openTimeoutMs: 50 });
  await hung.start();
  await once(tcp, 'accepted', { signal });
  await once(tcp, 'accepted', { signal });
  assert.ok(find(/no connection within 50 ms/));
  await hung.close();

  const mute = await setup(t, { welcome: false }, { welcomeTimeoutMs: 50, logger });
  await mute.link.start();
  const c1 = await mute.hub.nextConnection(signal);
  await c1.closed;
  await mute.hub.nextConnection(signal);
  assert.ok(find(/no welcome within 50 ms/));
  assert.equal(mute.link.connected, false);
});

test('callHub round trip; close() is graceful (1000), fails calls in flight and stops', async (t) => {
  const { hub, link, signal } = await setup(t);
  const conn = await startAndConnect(link, hub, signal);
  const call = link.callHub('hub.ping', {});
  const req = await conn.take((f) => f.type === 'req', signal);
  assert.equal(req.method, 'hub.ping');
  conn.send({ type: 'res', id: req.id, ok: true, result: { now: 7 } });
  assert.deepEqual(await call, { now: 7 });

  const hanging = link.callHub('hub.ping', {}).then(() => undefined, (err: unknown) => err);
  await conn.take((f) => f.type === 'req', signal);
  const stopped = once(link, 'stopped', { signal });
  await link.close();
  assert.equal((await conn.closed).code, 1000);
  const err = await hanging;
  assert.ok(err instanceof ReconSyncError && err.code === 'DISCONNECTED', String(err));
  assert.equal((await stopped)[0].reason, 'closed');
  assert.equal(link.connected, false);
  await assert.rejects(link.callHub('hub.ping', {}), (err: unknown) => err instanceof ReconSyncError && err.code === 'AGENT_OFFLINE');
  await assert.rejects(link.start(), /closed/);
});

test('a hub url that cannot work is refused when the link is made', () => {
  const base = { token: TOKEN, agentId: 'box-1', agentVersion: '0', dataDir: tmpdir(), servers: () => [], handlers: {} };
  assert.throws(() => new AgentLink({ ...base, url: 'not a url' }), /is not a URL/);
  assert.throws(() => new AgentLink({ ...base, url: 'http://127.0.0.1:7780/agent' }), /ws:\/\/ or wss:\/\//);
});

test('wss with a private CA: trusted through the ca option, refused (and retried) without it', async (t) => {
  const dir = await tempDir(t);
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
    '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { timeout: 10_000 });
  const hub = await FakeHub.start({ token: TOKEN, tls: { key: await readFile(key, 'utf8'), cert: await readFile(cert, 'utf8') } });
  t.after(() => hub.close());
  const signal = AbortSignal.timeout(5_000);

  const { logger, waitFor } = memoryLogger();
  const untrusting = newLink(t, hub.url, join(dir, 'a'), { logger });
  await untrusting.start();
  const failure = await waitFor(/self-signed certificate|unable to verify/i, signal);
  assert.match(failure.msg, /reconnecting with backoff/, 'a TLS failure is retried, not fatal');
  await untrusting.close();
  assert.equal(hub.upgrades, 0, 'no upgrade reaches a hub whose certificate is not trusted');

  const trusting = newLink(t, hub.url, join(dir, 'b'), { ca: cert });
  const conn = await startAndConnect(trusting, hub, signal);
  assert.equal(conn.hello?.agentId, 'box-1');
});
