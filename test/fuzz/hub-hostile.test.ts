/**
 * The real hub under a hostile agent: one connection with a valid token sends
 * thousands of mutated frames (structural and textual mutations of every
 * agent frame, frames naming another agent's server, hellos for another
 * agent id, binary frames, invalid UTF-8, oversized frames, nesting thousands
 * deep in any slot) and reconnects
 * whenever the hub drops it. Meanwhile a well-behaved AgentLink answers
 * `agent.ping` RPCs routed through the hub. The hub must stay up, keep
 * serving the good agent (every RPC succeeds, its link never drops, its
 * server stays its own), and close or ignore the hostile one.
 *
 *   FUZZ_SEED=123 FUZZ_ITERATIONS=20000 node --import tsx --test test/fuzz/hub-hostile.test.ts
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import WebSocket from 'ws';
import { AgentLink } from '../../agent/link/link.ts';
import { startHub } from '../../hub/hub.ts';
import { createToken } from '../../hub/tokens.ts';
import { MAX_FRAME_BYTES, PROTOCOL_HEADER, PROTOCOL_MAJOR, encodeFrame, type Frame } from '../../protocol/index.ts';
import { agentFrames, sampleBackup, sampleStatus } from './corpus.ts';
import { deepenText, fuzzRun, iterationRng, mutateText, mutateValue, protoGuard, randomBytes, randomJson, type Rng } from './fuzz-kit.ts';

const API_TOKEN = 'fuzz-api-token-0123456789abcdef';
/** Close codes the hub may use on a hostile socket: protocol error, bad UTF-8, too big, bad hello, going away. */
const EXPECTED_CLOSE_CODES = new Set([1002, 1007, 1009, 4002, 1001, 1006]);

/** What the hostile agent starts from: its own frames, plus frames that reach for the good agent's server and id. */
function hostileCorpus(): string[] {
  const own = agentFrames('evil').map((f) => encodeFrame(f));
  const reaching: Frame[] = [
    { type: 'evt', topic: 'status', seq: undefined, data: { ...sampleStatus, id: 'good-s1', state: 'crashed' } },
    { type: 'evt', topic: 'alert', seq: 900, data: { serverId: 'good-s1', kind: 'gave_up', message: 'spoofed', at: new Date(0).toISOString() } },
    { type: 'evt', topic: 'backup.completed', seq: 901, data: { ...sampleBackup, serverId: 'good-s1' } },
    { type: 'evt', topic: 'backup.progress', seq: undefined, data: { serverId: 'good-s1', jobId: 'x', phase: 'archiving', bytesDone: 1, bytesTotal: null } },
    { type: 'hello', agentId: 'good', agentVersion: 'evil', protocol: PROTOCOL_MAJOR, servers: [{ id: 'good-s1', game: 'valheim', name: 'mine now', managed: true }], capabilities: [] },
  ];
  return [...own, ...reaching.map((f) => encodeFrame(f))];
}

type Payload = { data: string | Buffer; binary: boolean };

function hostilePayload(rng: Rng, corpus: string[]): Payload {
  // Deep nesting in any slot, `type` included: one such frame used to end the hub (RangeError).
  if (rng.chance(0.03)) return { data: deepenText(rng, rng.pick(corpus)), binary: false };
  const r = rng.next();
  if (r < 0.35) {
    let v: unknown = JSON.parse(rng.pick(corpus));
    for (let n = rng.range(1, 3); n > 0; n--) v = mutateValue(rng, v);
    return { data: stringifyOr(v, rng.pick(corpus)), binary: false };
  }
  if (r < 0.6) {
    let s = rng.pick(corpus);
    for (let n = rng.range(1, 3); n > 0; n--) s = mutateText(rng, s);
    return { data: s, binary: false };
  }
  if (r < 0.75) return { data: rng.pick(corpus), binary: false }; // valid frames, some about someone else's server
  if (r < 0.85) return { data: stringifyOr(randomJson(rng, 3), '{}'), binary: false };
  if (r < 0.93) return { data: randomBytes(rng, 64), binary: true };
  if (r < 0.935) return { data: Buffer.concat([Buffer.from('{"type":"evt","x":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]), binary: false }; // invalid UTF-8 in a text frame
  if (r < 0.999) return { data: rng.pick(corpus), binary: false }; // more valid frames
  return { data: `{"type":"evt","pad":"${'x'.repeat(MAX_FRAME_BYTES)}"}`, binary: false }; // over maxPayload
}

function stringifyOr(v: unknown, fallback: string): string {
  try {
    return JSON.stringify(v) ?? fallback;
  } catch {
    return fallback; // nested deeper than JSON.stringify recurses
  }
}

/** One hostile connection: says hello (or a mutated one), then whatever the test sends. */
class HostileConn {
  readonly ws: WebSocket;
  readonly closed: Promise<number>;

  constructor(url: string, token: string) {
    this.ws = new WebSocket(url, { perMessageDeflate: false, headers: { authorization: `Bearer ${token}`, [PROTOCOL_HEADER]: String(PROTOCOL_MAJOR) } });
    this.ws.on('error', () => undefined);
    this.closed = new Promise((resolve) => this.ws.once('close', (code) => resolve(code)));
  }

  /** Resolves true once welcomed, false if the hub closed the socket first. */
  async open(hello: string): Promise<boolean> {
    const signal = AbortSignal.timeout(5_000);
    await Promise.race([once(this.ws, 'open', { signal }), this.closed]);
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(hello);
    const welcome = new Promise<boolean>((resolve) => {
      const onMessage = (data: WebSocket.RawData) => {
        if (String(data).startsWith('{"type":"welcome"')) {
          this.ws.off('message', onMessage);
          resolve(true);
        }
      };
      this.ws.on('message', onMessage);
    });
    const timeout = new Promise<boolean>((_, reject) => signal.addEventListener('abort', () => reject(new Error('no welcome within 5 s')), { once: true }));
    return Promise.race([welcome, this.closed.then(() => false), timeout]);
  }
}

test('the hub keeps serving a good agent while a hostile one sends mutated frames', async (t) => {
  const run = fuzzRun(t, 'hub under hostile frames', 20_000);
  const guard = protoGuard();
  const root = await mkdtemp(join(tmpdir(), 'rs-fuzz-hub-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const hub = await startHub({ config: { listen: { host: '127.0.0.1', port: 0 }, dataDir: join(root, 'hub'), api: { token: API_TOKEN } } });
  t.after(() => hub.close());
  const evilToken = createToken(hub.store, 'evil');

  // The well-behaved agent: a real AgentLink.
  const good = new AgentLink({
    url: hub.agentUrl,
    token: createToken(hub.store, 'good'),
    agentId: 'good',
    agentVersion: 'fuzz',
    dataDir: join(root, 'good'),
    servers: () => [{ id: 'good-s1', game: 'valheim', name: 'Good', managed: true }],
    handlers: { 'agent.ping': async () => ({ now: Date.now() }) },
  });
  t.after(() => good.close());
  let goodDrops = 0;
  good.on('disconnected', () => goodDrops++);
  await Promise.all([once(good, 'connected', { signal: AbortSignal.timeout(10_000) }), good.start()]);
  const spoofedAlerts: string[] = [];
  hub.service.on('alert', (a) => {
    if (a.serverId === 'good-s1') spoofedAlerts.push(`${a.agentId}: ${a.message}`);
  });
  const goodSession = hub.link.registry.get('good');
  assert.ok(goodSession?.open);

  // RPCs to the good agent for as long as the hostile one is at it.
  let hostileDone = false;
  const rpcErrors: string[] = [];
  const rpcLoop = (async () => {
    let n = 0;
    while (!hostileDone) {
      try {
        const r = await hub.service.router.call({ agentId: 'good' }, 'agent.ping', {}, { timeoutMs: 5_000 });
        assert.equal(typeof r.now, 'number');
        n++;
      } catch (err) {
        rpcErrors.push(String(err));
        if (rpcErrors.length > 5) break;
      }
      await new Promise((r) => setImmediate(r));
    }
    return n;
  })();

  const corpus = hostileCorpus();
  const helloText = encodeFrame(agentFrames('evil')[0]!);
  const closeCodes = new Map<number, number>();
  const deadline = AbortSignal.timeout(45_000);
  let conn: HostileConn | undefined;
  let connections = 0;
  let sent = 0;
  for (let i = 0; i < run.iterations; i++) {
    const rng = iterationRng(run.seed, i);
    if (!conn || conn.ws.readyState !== WebSocket.OPEN) {
      if (conn) {
        const code = await conn.closed;
        closeCodes.set(code, (closeCodes.get(code) ?? 0) + 1);
      }
      conn = new HostileConn(hub.agentUrl, evilToken);
      connections++;
      // Mostly a valid hello so the open phase gets fuzzed; sometimes a mutated one for the hello phase.
      const hello = rng.chance(0.8) ? helloText : mutateText(rng, helloText);
      if (!(await conn.open(hello))) continue;
    }
    const payload = hostilePayload(rng, corpus);
    conn.ws.send(payload.data, { binary: payload.binary });
    sent++;
    // Let the hub (same event loop) work through the frames and the good agent's RPCs get their turn.
    if (i % 16 === 0) await new Promise((r) => setImmediate(r));
    assert.ok(!deadline.aborted, `${run.where(i)}: the hostile run took longer than 45 s`);
  }
  if (conn) {
    conn.ws.close();
    const code = await conn.closed;
    closeCodes.set(code, (closeCodes.get(code) ?? 0) + 1);
  }
  hostileDone = true;
  const rpcsDuring = await rpcLoop;

  t.diagnostic(`${sent} hostile frames over ${connections} connections; close codes ${JSON.stringify(Object.fromEntries(closeCodes))}; ${rpcsDuring} good RPCs meanwhile`);
  assert.deepEqual(rpcErrors, [], `${run.where(0)}: RPCs to the good agent failed during the attack`);
  assert.ok(rpcsDuring > 0, 'no RPC reached the good agent during the attack');
  for (const code of closeCodes.keys()) {
    // 1000/1005 only for the socket we closed ourselves at the end.
    if (code === 1000 || code === 1005) continue;
    assert.ok(EXPECTED_CLOSE_CODES.has(code), `${run.where(0)}: unexpected close code ${code}`);
  }
  assert.ok((closeCodes.get(1002) ?? 0) > 0, 'the hub never dropped the hostile socket for malformed frames');
  assert.match(await hub.metrics.registry.metrics(), /reconsync_frames_malformed_total [1-9]/);

  // After the attack: the hub is healthy, the good agent kept its one session and its server.
  for (let i = 0; i < 20; i++) assert.equal(typeof (await hub.service.router.call({ agentId: 'good' }, 'agent.ping', {})).now, 'number');
  assert.equal(goodDrops, 0, 'the good agent lost its link');
  assert.equal(hub.link.registry.get('good'), goodSession, 'the good agent session was replaced');
  assert.equal(hub.service.getServer('good-s1').agentId, 'good', 'the hostile agent took over the good agent server');
  assert.notEqual(hub.service.getServer('good-s1').lastKnownState, 'crashed', 'a spoofed status for the good agent server was accepted');
  assert.deepEqual(hub.service.listBackups('good-s1'), [], 'a spoofed backup record for the good agent server was cataloged');
  assert.deepEqual(spoofedAlerts, [], 'a spoofed alert for the good agent server went out');
  const health = await fetch(`${hub.url}/healthz`, { signal: AbortSignal.timeout(5_000) });
  assert.equal(health.status, 200);
  guard();
});
