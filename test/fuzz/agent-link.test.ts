/**
 * The agent link's parser under a hostile hub: the fake hub of the link tests
 * (test/agent/link/fake-hub.ts) welcomes a real AgentLink, then sends
 * thousands of mutated hub frames (welcome, req, res, ack, cancel: structural
 * and textual mutations, nesting thousands deep in any slot), random JSON, binary frames, and now and then
 * invalid UTF-8 or an oversized frame (which make the agent's socket close).
 * Every so often a valid `agent.ping` probe must be answered: the link stays
 * usable, or reconnects by itself and is usable again. It never gives up.
 *
 *   FUZZ_SEED=123 FUZZ_ITERATIONS=50000 node --import tsx --test test/fuzz/agent-link.test.ts
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AgentLink } from '../../agent/link/link.ts';
import { MAX_FRAME_BYTES, encodeFrame } from '../../protocol/index.ts';
import { FakeHub, type FakeConn } from '../agent/link/fake-hub.ts';
import { memoryLogger } from '../agent/link/log-sink.ts';
import { hubFrames, sampleStatus } from './corpus.ts';
import { deepJsonText, deepenText, fuzzRun, iterationRng, mutateText, mutateValue, protoGuard, randomBytes, randomJson, type Rng } from './fuzz-kit.ts';

const TOKEN = 'rsa_fuzz-token-0123456789abcdef';
/** A liveness probe every this many hostile frames. */
const PROBE_EVERY = 250;

function stringifyOr(v: unknown, fallback: string): string {
  try {
    return JSON.stringify(v) ?? fallback;
  } catch {
    return fallback; // nested deeper than JSON.stringify recurses
  }
}

/** One hostile frame; `closes` marks the ones after which the agent must drop the socket. */
function hostileFrame(rng: Rng, corpus: string[]): { data: string | Buffer; binary: boolean; closes: boolean } {
  // Deep nesting in any slot, `type` included.
  if (rng.chance(0.03)) return { data: deepenText(rng, rng.pick(corpus)), binary: false, closes: false };
  const r = rng.next();
  if (r < 0.4) {
    let v: unknown = JSON.parse(rng.pick(corpus));
    for (let n = rng.range(1, 3); n > 0; n--) v = mutateValue(rng, v);
    return { data: stringifyOr(v, rng.pick(corpus)), binary: false, closes: false };
  }
  if (r < 0.7) {
    let s = rng.pick(corpus);
    for (let n = rng.range(1, 3); n > 0; n--) s = mutateText(rng, s);
    return { data: s, binary: false, closes: false };
  }
  if (r < 0.85) return { data: rng.pick(corpus), binary: false, closes: false };
  if (r < 0.93) return { data: stringifyOr(randomJson(rng, 3), '{}'), binary: false, closes: false };
  if (r < 0.997) return { data: randomBytes(rng, 64), binary: true, closes: false };
  if (r < 0.999) return { data: Buffer.from([0x7b, 0xc3, 0x28, 0xff, 0x7d]), binary: false, closes: true }; // invalid UTF-8: 1007
  return { data: `{"type":"req","pad":"${'x'.repeat(MAX_FRAME_BYTES)}"}`, binary: false, closes: true }; // over maxPayload: 1009
}

test('a real AgentLink survives a hub that sends mutated frames', async (t) => {
  const run = fuzzRun(t, 'agent link under hostile frames', 30_000);
  const guard = protoGuard();
  const root = await mkdtemp(join(tmpdir(), 'rs-fuzz-link-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const hub = await FakeHub.start({ token: TOKEN });
  t.after(() => hub.close());
  let stopped: string | null = null;
  let handled = 0;
  const link = new AgentLink({
    url: hub.url,
    token: TOKEN,
    agentId: 'box-1',
    agentVersion: 'fuzz',
    dataDir: join(root, 'agent'),
    servers: () => [{ id: 'valheim-main', game: 'valheim', name: 'Valheim', managed: false }],
    handlers: {
      'agent.ping': async () => (handled++, { now: Date.now() }),
      'server.status': async () => (handled++, { servers: [sampleStatus] }),
    },
    backoff: { baseMs: 5, capMs: 50 },
  });
  t.after(() => link.close());
  link.on('stopped', (e) => {
    if (e.reason !== 'closed') stopped = `${e.reason}: ${e.message}`;
  });

  const signal = AbortSignal.timeout(50_000);
  await link.start();
  let conn: FakeConn = await hub.nextConnection(signal);
  let connections = 1;
  let probes = 0;

  /** A valid request must come back answered, on this connection or, if it dropped, on the next one. */
  const probe = async (i: number) => {
    for (;;) {
      const id = `probe-${i}-${probes++}`;
      conn.send({ type: 'req', id, method: 'agent.ping', params: {}, timeoutMs: 5_000 });
      const answered = conn.take((f) => f.type === 'res' && f.id === id, AbortSignal.any([signal, AbortSignal.timeout(5_000)])).then((f) => f.ok === true);
      const dropped = conn.closed.then(() => 'dropped' as const);
      const outcome = await Promise.race([answered, dropped]).catch((err: unknown) => {
        throw new Error(`${run.where(i)}: the probe got no answer (${(err as Error).message}); the link is stuck`);
      });
      if (outcome === true) return;
      assert.notEqual(outcome, false, `${run.where(i)}: the probe was answered with an error`);
      conn = await hub.nextConnection(signal); // the agent reconnects by itself
      connections++;
    }
  };

  const corpus = hubFrames().map((f) => encodeFrame(f));
  for (let i = 0; i < run.iterations; i++) {
    const rng = iterationRng(run.seed, i);
    const frame = hostileFrame(rng, corpus);
    if (conn.ws.readyState === conn.ws.OPEN) conn.ws.send(frame.data, { binary: frame.binary });
    if (frame.closes || i % PROBE_EVERY === PROBE_EVERY - 1) await probe(i);
    else if (i % 32 === 0) await new Promise((r) => setImmediate(r));
    assert.equal(stopped, null, `${run.where(i)}: the link gave up`);
  }
  await probe(run.iterations);
  t.diagnostic(`${run.iterations} hostile frames, ${connections} connection(s), ${probes} probes, ${handled} requests served`);
  assert.equal(stopped, null, 'the link gave up');
  assert.ok(link.connected, 'the link is not connected at the end');
  guard();
});

test('a hub frame nested thousands deep in any slot is ignored; the link keeps serving', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'rs-deep-link-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const hub = await FakeHub.start({ token: TOKEN });
  t.after(() => hub.close());
  const { logger, lines } = memoryLogger();
  let drops = 0;
  const link = new AgentLink({
    url: hub.url,
    token: TOKEN,
    agentId: 'box-1',
    agentVersion: 'fuzz',
    dataDir: join(root, 'agent'),
    servers: () => [],
    handlers: { 'agent.ping': async () => ({ now: 42 }) },
    logger,
  });
  t.after(() => link.close());
  link.on('disconnected', () => drops++);
  const signal = AbortSignal.timeout(30_000);
  await link.start();
  const conn = await hub.nextConnection(signal);
  const slots = (deep: string) => [
    `{"type":${deep}}`,
    `{"type":"req","id":"d1","method":"agent.ping","params":${deep},"timeoutMs":5000}`,
    `{"type":"req","id":${deep},"method":"agent.ping","params":{},"timeoutMs":5000}`,
    `{"type":"res","id":"x","ok":true,"result":${deep}}`,
    `{"type":"res","id":"x","ok":false,"error":{"code":"BUSY","message":${deep},"retryable":true}}`,
    `{"type":"ack","seq":${deep}}`,
    `{"type":"cancel","id":${deep}}`,
    `{"type":"welcome","sessionId":"s","heartbeatMs":15000,"hubVersion":${deep},"ackedSeq":0}`,
  ];
  let sent = 0;
  for (const depth of [5_000, 100_000]) {
    for (const asObject of [false, true]) {
      for (const text of slots(deepJsonText(depth, '1', asObject))) {
        conn.ws.send(text);
        sent++;
      }
      const id = `probe-${depth}-${asObject}`;
      conn.send({ type: 'req', id, method: 'agent.ping', params: {}, timeoutMs: 5_000 });
      const res = await conn.take((f) => f.type === 'res' && f.id === id, signal);
      assert.deepEqual(res.result, { now: 42 });
    }
  }
  assert.equal(drops, 0, 'the link dropped');
  assert.equal(link.connected, true);
  // Each was refused on its depth (the link logs the first few of a burst).
  const ignored = lines.filter((l) => /ignored an invalid frame from the hub/.test(l.msg));
  assert.ok(ignored.length > 0 && ignored.length <= sent);
  for (const l of ignored) assert.match(l.msg, /: frame nested deeper than 64 levels$/);
});
