import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { createStatusProbe } from '../../../agent/monitors/query.ts';
import { playersFromKeywords, versionFromKeywords } from '../../../agent/monitors/query/keywords.ts';
import { parseArkPlayers } from '../../../agent/monitors/query/admin-status.ts';
import { parseStatusReply, encodeVarInt, decodeVarInt } from '../../../agent/monitors/query/minecraft-ping.ts';
import { ReconSyncError } from '../../../protocol/errors.ts';
import { A2sFake, type A2sFakeOptions } from './fakes/a2s-server.ts';
import { SlpFake } from './fakes/minecraft-slp.ts';
import { RconFake } from './fakes/rcon-server.ts';
import { PalworldFake, SatisfactoryFake, makeSelfSignedCert } from './fakes/http-games.ts';
import { resolvedFor } from './fakes/servers.ts';

const TIMEOUT = 1500;

async function withA2s<T>(opts: A2sFakeOptions, body: (port: number, fake: A2sFake) => Promise<T>): Promise<T> {
  const fake = new A2sFake(opts);
  const port = await fake.start();
  try {
    return await body(port, fake);
  } finally {
    await fake.close();
  }
}

async function rejectsCode(p: Promise<unknown>, code: string): Promise<ReconSyncError> {
  const err = await p.then(() => assert.fail('expected a rejection'), (e: unknown) => e);
  assert.ok(err instanceof ReconSyncError, `expected ReconSyncError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  return err;
}

const valheimInfo = { name: 'Viking', map: 'Midgard', folder: 'valheim', game: '', appId: 892970, players: 2, maxPlayers: 10, version: '1.0.0.0', gamePort: 2456 };

test('keyword helpers: Rust cp/mp, Valheim version (bare and g=)', () => {
  assert.deepEqual(playersFromKeywords(['mp200', 'cp57', 'ptrak', 'born1700000000']), { online: 57, max: 200 });
  assert.deepEqual(playersFromKeywords(['monthly']), {});
  assert.equal(versionFromKeywords(['0.203.11']), '0.203.11');
  assert.equal(versionFromKeywords(['g=0.217.38', 'n=27', 'm=abc']), '0.217.38');
  assert.equal(versionFromKeywords(['crossplay']), null);
});

test('Valheim: A2S with a fixed challenge, empty names counted but not listed, version from keywords', async () => {
  await withA2s({ info: { ...valheimInfo, keywords: 'g=0.218.21,n=33,m=xyz' }, challenge: 'fixed', players: [{ name: '' }, { name: '' }] }, async (port, fake) => {
    const r = await createStatusProbe(resolvedFor('valheim', { queryPort: port }), { timeoutMs: TIMEOUT }).query();
    assert.deepEqual(r, { players: { online: 2, max: 10, names: [] }, map: 'Midgard', version: '0.218.21' });
    assert.deepEqual(fake.requests.slice(0, 2), ['info', 'info'], 'the INFO was resent with the challenge');
  });
});

test('Rust: player counts from cp/mp keywords, names from a split A2S_PLAYER reply, rotating challenge', async () => {
  const players = Array.from({ length: 60 }, (_, i) => ({ name: `player-${i}-${'x'.repeat(20)}`, duration: 100 + i }));
  const info = { name: 'Rust Test', map: 'Procedural Map', folder: 'rust', game: 'Rust', appId: 252490, players: 60, maxPlayers: 255, version: '2581', keywords: 'mp300,cp260,ptrak,qp0,v2581,h0' };
  await withA2s({ info, players, challenge: 'rotating', splitAt: 600 }, async (port) => {
    const r = await createStatusProbe(resolvedFor('rust', { queryPort: port }), { timeoutMs: TIMEOUT }).query();
    assert.equal(r.players.online, 260, 'cp260 beats the INFO byte');
    assert.equal(r.players.max, 300);
    assert.equal(r.players.names.length, 60);
    assert.ok(r.players.names.includes('player-0-xxxxxxxxxxxxxxxxxxxx'));
    assert.equal(r.map, 'Procedural Map');
    assert.equal(r.version, '2581');
  });
});

test('ARK (ase): no challenge, plain reply; version from the version field', async () => {
  const info = { name: 'ARK #1', map: 'TheIsland', folder: 'ark_survival_evolved', game: 'ARK', appId: 346110, players: 1, maxPlayers: 70, version: '358.24', keywords: ',OWNINGID:1' };
  await withA2s({ info, players: [{ name: 'Survivor' }] }, async (port) => {
    const r = await createStatusProbe(resolvedFor('ark', { queryPort: port }), { timeoutMs: TIMEOUT }).query();
    assert.deepEqual(r, { players: { online: 1, max: 70, names: ['Survivor'] }, map: 'TheIsland', version: '358.24' });
  });
});

test('a server that ignores A2S_PLAYER still gives INFO within the timeout', async () => {
  await withA2s({ info: valheimInfo, stall: ['players'] }, async (port) => {
    const started = Date.now();
    const r = await createStatusProbe(resolvedFor('valheim', { queryPort: port }), { timeoutMs: TIMEOUT }).query();
    assert.deepEqual(r.players, { online: 2, max: 10, names: [] });
    assert.ok(Date.now() - started < TIMEOUT, 'PLAYER timeout is a fraction of the budget');
  });
});

test('no INFO answer: TIMEOUT naming the server and the port, within the budget', async () => {
  await withA2s({ info: valheimInfo, stall: ['info'] }, async (port) => {
    const started = Date.now();
    const err = await rejectsCode(createStatusProbe(resolvedFor('valheim', { queryPort: port }), { timeoutMs: 400 }).query(), 'TIMEOUT');
    assert.match(err.message, new RegExp(`valheim-test.*127\\.0\\.0\\.1:${port}`));
    assert.ok(Date.now() - started < 1500);
  });
});

test('nothing listening on the UDP port: TIMEOUT', async () => {
  const sock = dgram.createSocket('udp4');
  sock.bind(0, '127.0.0.1');
  await once(sock, 'listening');
  const port = sock.address().port;
  await new Promise<void>((r) => sock.close(() => r()));
  await rejectsCode(createStatusProbe(resolvedFor('enshrouded', { queryPort: port }), { timeoutMs: 300 }).query(), 'TIMEOUT');
});

test('the caller can cancel a query', async () => {
  await withA2s({ info: valheimInfo, stall: ['info'] }, async (port) => {
    const ac = new AbortController();
    const p = createStatusProbe(resolvedFor('valheim', { queryPort: port }), { timeoutMs: 600 }).query(ac.signal);
    ac.abort();
    await rejectsCode(p, 'CANCELLED');
  });
});

test('Minecraft: Server List Ping with a reply split across TCP segments', async () => {
  const status = { version: { name: 'Paper 1.21.4', protocol: 769 }, players: { online: 3, max: 20, sample: [{ name: 'Steve', id: 'a' }, { name: 'Alex', id: 'b' }] }, description: { text: 'A ', extra: [{ text: '§aserver' }] } };
  const fake = new SlpFake({ status, split: true });
  const port = await fake.start();
  try {
    const r = await createStatusProbe(resolvedFor('minecraft', { queryPort: port }), { timeoutMs: TIMEOUT }).query();
    assert.deepEqual(r, { players: { online: 3, max: 20, names: ['Steve', 'Alex'] }, map: null, version: 'Paper 1.21.4' });
    assert.deepEqual(fake.handshakes, [{ protocol: 47, host: '127.0.0.1', port, next: 1 }]);
  } finally {
    await fake.close();
  }
});

test('Minecraft: a hostile length or a silent server is an error, not a hang or a huge buffer', async () => {
  const huge = Buffer.concat([encodeVarInt(0x7fffffff), Buffer.from([0])]);
  for (const opts of [{ raw: huge }, { stall: true }]) {
    const fake = new SlpFake({ status: {}, ...opts });
    const port = await fake.start();
    try {
      await rejectsCode(createStatusProbe(resolvedFor('minecraft', { queryPort: port }), { timeoutMs: 300 }).query(), 'TIMEOUT');
    } finally {
      await fake.close();
    }
  }
});

test('SLP codec: varints round-trip, incomplete input waits, overlong varint throws', () => {
  for (const v of [0, 1, 127, 128, 300, 2097151, 2147483647, -1]) {
    const d = decodeVarInt(encodeVarInt(v), 0);
    assert.equal(d?.value, v);
  }
  assert.equal(decodeVarInt(Buffer.from([0x80]), 0), null);
  assert.throws(() => decodeVarInt(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), 0), /5 bytes/);
  assert.equal(parseStatusReply(Buffer.from([0x05, 0x00])), null);
});

test('Palworld: status from the REST API (info, players, metrics)', async () => {
  const fake = new PalworldFake({ password: 'pal', players: [{ name: 'Pal1' }, { name: '' }], maxPlayers: 16, version: 'v0.4.1' });
  const port = await fake.start();
  try {
    const r = await createStatusProbe(resolvedFor('palworld', { rconPort: port, password: 'pal' }), { timeoutMs: TIMEOUT }).query();
    assert.deepEqual(r, { players: { online: 2, max: 16, names: ['Pal1'] }, map: null, version: 'v0.4.1' });
    fake.options.noMetrics = true;
    const old = await createStatusProbe(resolvedFor('palworld', { rconPort: port, password: 'pal' }), { timeoutMs: TIMEOUT }).query();
    assert.deepEqual(old.players, { online: 2, max: 0, names: ['Pal1'] }, 'without /metrics: count from the list, max unknown');
  } finally {
    await fake.close();
  }
});

test('Palworld: a wrong password is ADMIN_CHANNEL (operator must fix), not TIMEOUT', async () => {
  const fake = new PalworldFake({ password: 'pal' });
  const port = await fake.start();
  try {
    await rejectsCode(createStatusProbe(resolvedFor('palworld', { rconPort: port, password: 'bad' }), { timeoutMs: TIMEOUT }).query(), 'ADMIN_CHANNEL');
  } finally {
    await fake.close();
  }
});

let tls: { key: string; cert: string };
before(async () => {
  tls = await makeSelfSignedCert();
});

test('Satisfactory: QueryServerState with the admin token, or a passwordless Client login', async () => {
  const fake = new SatisfactoryFake({ adminToken: 'tok', passwordless: true, players: 2, playerLimit: 8, session: 'Northern Forest' });
  const port = await fake.start(tls);
  try {
    const r = await createStatusProbe(resolvedFor('satisfactory', { queryPort: port, rconPort: port, password: 'tok' }), { timeoutMs: TIMEOUT }).query();
    assert.deepEqual(r, { players: { online: 2, max: 8, names: [] }, map: 'Northern Forest', version: null });
    const probe = createStatusProbe(resolvedFor('satisfactory', { queryPort: port, rconPort: port }), { timeoutMs: TIMEOUT });
    await probe.query();
    await probe.query();
    const fns = fake.calls.slice(1).map((c) => (c.body as { function: string }).function);
    assert.deepEqual(fns, ['PasswordlessLogin', 'QueryServerState', 'QueryServerState'], 'the Client token is cached');
  } finally {
    await fake.close();
  }
});

test('ASA: players from RCON listplayers over a shared admin channel', async () => {
  assert.deepEqual(parseArkPlayers('0. Alice, 0002e3f1a\n1. Bob the, Builder, 76561198000000001\n'), ['Alice', 'Bob the, Builder']);
  assert.deepEqual(parseArkPlayers('No Players Connected'), []);
  const fake = new RconFake({ password: 'asa', dialect: 'ark', handler: (c) => (c === 'listplayers' ? '\n0. Alice, 0002e3f1a\n1. Bob, 0002e3f1b \n' : '') });
  const port = await fake.start();
  const probe = createStatusProbe(resolvedFor('asa', { rconPort: port, password: 'asa', vars: { maxPlayers: '70' } }), { timeoutMs: TIMEOUT });
  try {
    const r = await probe.query();
    assert.deepEqual(r, { players: { online: 2, max: 70, names: ['Alice', 'Bob'] }, map: 'TheIsland', version: null });
    await probe.query();
    assert.equal(fake.connections, 1, 'the probe keeps its RCON connection');
  } finally {
    await probe.close();
    await fake.close();
  }
});
