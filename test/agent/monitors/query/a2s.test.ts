/**
 * Our A2S client against the simulated game server (sim/, its own A2S
 * answerer), the small fake of test/agent/monitors/fakes, and a raw UDP socket
 * for replies no well-behaved server sends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { createStatusProbe } from '../../../../agent/monitors/query.ts';
import { A2sClient, queryA2s } from '../../../../agent/monitors/query/a2s.ts';
import { A2sError, A2sLimits, SplitAssembler, decodeInfo, decodePlayers, decodeRules } from '../../../../agent/monitors/query/a2s-wire.ts';
import { encodeInfo, encodePlayers, encodeRules, splitPacket } from '../../../../sim/a2s-codec.ts';
import { startSimServer } from '../../../../sim/game-server.ts';
import { A2sFake } from '../fakes/a2s-server.ts';
import { resolvedFor } from '../fakes/servers.ts';

const WAIT = () => AbortSignal.timeout(2000);

const simInfo = {
  protocol: 17, name: 'Sim', map: 'Midgard', folder: 'valheim', game: 'Valheim', appId: 892970, players: 3, maxPlayers: 10, bots: 0,
  serverType: 'd', environment: 'l', passwordProtected: false, vac: false, version: '1.0.0.0', gamePort: 2456, steamId: 1n, keywords: 'g=0.219.16,n=35,m=',
};

/** A UDP peer that answers every datagram with whatever `reply` returns (several datagrams, or none). */
async function rawServer(reply: (req: Buffer) => Buffer[]): Promise<{ port: number; requests: Buffer[]; close(): Promise<void> }> {
  const socket = dgram.createSocket('udp4');
  const requests: Buffer[] = [];
  socket.on('message', (msg, rinfo) => {
    requests.push(msg);
    for (const d of reply(msg)) socket.send(d, rinfo.port, rinfo.address);
  });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return { port: socket.address().port, requests, close: () => new Promise((r) => socket.close(() => r())) };
}

async function withClient<T>(port: number, body: (c: A2sClient) => Promise<T>): Promise<T> {
  const client = new A2sClient({ host: '127.0.0.1', port, resendMs: 200 });
  try {
    return await body(client);
  } finally {
    client.close();
  }
}

function splitHeader(id: number, total: number, n: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeInt32LE(-2, 0);
  h.writeUInt32LE(id >>> 0, 4);
  h.writeUInt8(total, 8);
  h.writeUInt8(n, 9);
  h.writeUInt16LE(1400, 10);
  return h;
}

async function rejectsReason(p: Promise<unknown>, reason: string, message?: RegExp): Promise<void> {
  const err = await p.then(() => assert.fail('expected a rejection'), (e: unknown) => e);
  assert.ok(err instanceof A2sError, `expected an A2sError, got ${String(err)}`);
  assert.equal(err.reason, reason, err.message);
  if (message) assert.match(err.message, message);
}

test('wire: INFO with every EDF field, PLAYER and RULES decode from the simulator codec', () => {
  const info = decodeInfo(encodeInfo(simInfo));
  assert.deepEqual(info, { name: 'Sim', map: 'Midgard', folder: 'valheim', game: 'Valheim', players: 3, maxPlayers: 10, bots: 0, version: '1.0.0.0', keywords: ['g=0.219.16', 'n=35', 'm='], gamePort: 2456 });
  assert.deepEqual(decodePlayers(encodePlayers([{ name: 'Ragnar', score: 5, seconds: 12.5 }, { name: '', score: 0, seconds: 1 }])),
    [{ name: 'Ragnar', score: 5, seconds: 12.5 }, { name: '', score: 0, seconds: 1 }]);
  assert.deepEqual([...decodeRules(encodeRules([['a', '1'], ['b', '']]))], [['a', '1'], ['b', '']]);
});

test('wire: a truncated INFO is refused naming the field; a truncated PLAYER/RULES list keeps the complete entries', () => {
  const whole = encodeInfo(simInfo);
  for (const cut of [6, 12, 30, 40]) assert.throws(() => decodeInfo(whole.subarray(0, cut)), (e: unknown) => e instanceof A2sError && e.reason === 'truncated' && /A2S_INFO reply ended/.test(e.message));
  const players = encodePlayers([{ name: 'One', score: 1, seconds: 1 }, { name: 'Two', score: 2, seconds: 2 }]);
  assert.deepEqual(decodePlayers(players.subarray(0, players.length - 3)).map((p) => p.name), ['One']);
  assert.throws(() => decodePlayers(players.subarray(0, 5)), A2sError, 'no count byte');
  const rules = encodeRules([['a', '1'], ['b', '2']]);
  assert.deepEqual([...decodeRules(rules.subarray(0, rules.length - 1))], [['a', '1']]);
});

test('wire: split reassembly in any order, duplicates and foreign ids ignored; hostile counts, bzip2 and size refused', () => {
  const whole = encodePlayers(Array.from({ length: 40 }, (_, i) => ({ name: `p${i}`, score: i, seconds: i })));
  const parts = splitPacket(whole, 100, 7);
  assert.ok(parts.length > 3);
  const a = new SplitAssembler();
  let out: Buffer | null = null;
  const stranger = Buffer.concat([splitHeader(8, parts.length, 0), Buffer.from('xx')]);
  for (const p of [...parts].reverse().flatMap((p) => [p, p, stranger])) out = a.push(p) ?? out;
  assert.ok(out && out.equals(whole));

  const bad = (d: Buffer, reason: string) => assert.throws(() => new SplitAssembler().push(d), (e: unknown) => e instanceof A2sError && e.reason === reason, reason);
  bad(Buffer.concat([splitHeader(0x80000001, 2, 0), Buffer.alloc(8)]), 'compressed');
  bad(Buffer.concat([splitHeader(1, 0, 0), Buffer.from('x')]), 'bad-split');
  bad(Buffer.concat([splitHeader(1, A2sLimits.maxSplitPackets + 1, 0), Buffer.from('x')]), 'bad-split');
  bad(Buffer.concat([splitHeader(1, 3, 3), Buffer.from('x')]), 'bad-split');
  bad(Buffer.alloc(8, 0xfe), 'truncated');
  const changed = new SplitAssembler();
  changed.push(Buffer.concat([splitHeader(1, 3, 0), Buffer.from('x')]));
  assert.throws(() => changed.push(Buffer.concat([splitHeader(1, 4, 1), Buffer.from('x')])), /changed its part count/);
  const big = new SplitAssembler();
  const chunk = Buffer.alloc(4000);
  assert.throws(() => { for (let n = 0; n < A2sLimits.maxSplitPackets; n++) big.push(Buffer.concat([splitHeader(1, A2sLimits.maxSplitPackets, n), chunk])); },
    (e: unknown) => e instanceof A2sError && e.reason === 'oversized');
  const garbage = new SplitAssembler();
  assert.throws(() => garbage.push(Buffer.concat([splitHeader(1, 1, 0), Buffer.from('hello')])), /does not start with FF FF FF FF/);
});

test('the simulated Valheim: INFO behind a challenge, empty player names, version from the keywords', async (t) => {
  const sim = await startSimServer({ game: 'valheim', players: ['Ragnar', 'Lagertha'], ports: { control: null } });
  t.after(() => sim.close());
  const r = await queryA2s(resolvedFor('valheim', { queryPort: sim.ports.query! }), 1500, WAIT());
  assert.equal(r.players.online, 2);
  assert.deepEqual(r.players.names, [], 'Valheim sends empty names: counted, not listed');
  assert.match(r.version ?? '', /^\d+\.\d+/);
  assert.notEqual(r.version, '1.0.0.0', 'not the INFO version field');
});

test('the simulated Rust: rotating challenge, every reply split at a small MTU, cp/mp keywords, RULES', async (t) => {
  const names = Array.from({ length: 30 }, (_, i) => `Survivor_${i}`);
  const sim = await startSimServer({ game: 'rust', players: names, maxPlayers: 300, a2s: { rotateChallenge: true, mtu: 120 }, ports: { control: null } });
  t.after(() => sim.close());
  const r = await queryA2s(resolvedFor('rust', { queryPort: sim.ports.query! }), 1500, WAIT());
  assert.equal(r.players.online, 30);
  assert.equal(r.players.max, 300, 'mp300 beats the INFO byte (255)');
  assert.deepEqual(r.players.names, names);
  await withClient(sim.ports.query!, async (c) => {
    const rules = await c.rules(WAIT());
    assert.equal(rules.get('sim_game'), 'rust');
    // A second round on the same client: each request earns (and uses) a fresh challenge.
    assert.equal((await c.info(WAIT())).players, 30);
    assert.equal((await c.players(WAIT())).length, 30);
  });
});

test('a server that never answers RULES or PLAYER: the caller\'s signal ends the wait', async (t) => {
  const sim = await startSimServer({ game: 'ark', a2s: { timeoutPlayers: true, timeoutRules: true }, ports: { control: null } });
  t.after(() => sim.close());
  await withClient(sim.ports.query!, async (c) => {
    await assert.rejects(c.rules(AbortSignal.timeout(200)), { name: 'TimeoutError' });
    await assert.rejects(c.players(AbortSignal.timeout(200)), { name: 'TimeoutError' });
    assert.ok((await c.info(WAIT())).name.length > 0, 'INFO still answers');
  });
});

test('a lost datagram is resent', async () => {
  let dropped = 0;
  const srv = await rawServer(() => (dropped++ === 0 ? [] : [encodeInfo(simInfo)]));
  try {
    await withClient(srv.port, async (c) => assert.equal((await c.info(WAIT())).name, 'Sim'));
    assert.equal(srv.requests.length, 2);
  } finally {
    await srv.close();
  }
});

test('the fake: fixed challenge on INFO, PLAYER asked with FFFFFFFF first', async () => {
  const fake = new A2sFake({ info: { name: 'F', map: 'M', folder: 'f', game: 'g', appId: 1, players: 1, maxPlayers: 2, version: '1' }, challenge: 'fixed', players: [{ name: 'Solo' }] });
  const port = await fake.start();
  try {
    await withClient(port, async (c) => {
      assert.equal((await c.info(WAIT())).map, 'M');
      assert.deepEqual((await c.players(WAIT())).map((p) => p.name), ['Solo']);
    });
    assert.deepEqual(fake.requests, ['info', 'info', 'players', 'players']);
  } finally {
    await fake.close();
  }
});

test('hostile replies: oversized datagram, endless challenges, bzip2 split, truncated INFO, bad split count', async () => {
  const challenge = (n: number) => { const b = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x41, 0, 0, 0, 0]); b.writeUInt32LE(n, 5); return b; };
  let n = 1;
  const cases: Array<[string, (req: Buffer) => Buffer[], string, RegExp]> = [
    ['oversized', () => [Buffer.concat([encodeInfo(simInfo), Buffer.alloc(A2sLimits.maxDatagramBytes)])], 'oversized', /over the 4096-byte limit/],
    ['endless challenge', () => [challenge(n++)], 'challenge', /new challenge each time/],
    ['bzip2', () => [Buffer.concat([splitHeader(0x80000005, 2, 0), Buffer.alloc(20)])], 'compressed', /bzip2/],
    ['truncated', () => [encodeInfo(simInfo).subarray(0, 20)], 'truncated', /ended inside its folder/],
    ['bad split count', () => [Buffer.concat([splitHeader(5, 200, 0), Buffer.alloc(20)])], 'bad-split', /claims 200 parts/],
  ];
  for (const [label, reply, reason, message] of cases) {
    const srv = await rawServer(reply);
    try {
      await withClient(srv.port, (c) => rejectsReason(c.info(WAIT()), reason, message));
    } catch (err) {
      throw new Error(`${label}: ${(err as Error).message}`, { cause: err });
    } finally {
      await srv.close();
    }
  }
});

test('an empty player name and a name full of controls come out cleaned, through the same cleaning as every probe', async () => {
  const fake = new A2sFake({
    info: { name: 'F', map: 'Map\u0007', folder: 'f', game: 'g', appId: 1, players: 3, maxPlayers: 4, version: 'v1\n2' },
    players: [{ name: '' }, { name: 'Bad\u202eName\tX' }, { name: '   ' }],
  });
  const port = await fake.start();
  try {
    const r = await queryA2s(resolvedFor('ark', { queryPort: port }), 1500, WAIT());
    assert.deepEqual(r, { players: { online: 3, max: 4, names: ['Bad Name X'] }, map: 'Map', version: 'v1 2' });
  } finally {
    await fake.close();
  }
});

test('query.kind gamedig (a game without a profile) still queries through gamedig, imported on demand', async () => {
  const fake = new A2sFake({ info: { name: 'G', map: 'TheIsland', folder: 'ark', game: 'ARK', appId: 346110, players: 1, maxPlayers: 70, version: '358.24' }, players: [{ name: 'Survivor' }] });
  const port = await fake.start();
  try {
    const server = resolvedFor('ark', { queryPort: port, profile: { query: { kind: 'gamedig', gamedigType: 'ase' } } });
    assert.equal(server.query.kind, 'gamedig');
    const r = await createStatusProbe(server, { timeoutMs: 1500 }).query();
    assert.deepEqual(r, { players: { online: 1, max: 70, names: ['Survivor'] }, map: 'TheIsland', version: '358.24' });
  } finally {
    await fake.close();
  }
});
