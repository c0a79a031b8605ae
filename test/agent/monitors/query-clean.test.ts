import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createStatusProbe } from '../../../agent/monitors/query.ts';
import { cleanQueryResult, cleanText } from '../../../agent/monitors/query/clean.ts';
import type { QueryResult } from '../../../agent/types.ts';
import { ServerStatusSchema, StatusLimits, type ServerStatus } from '../../../protocol/index.ts';
import { A2sFake } from './fakes/a2s-server.ts';
import { PalworldFake, SatisfactoryFake, makeSelfSignedCert } from './fakes/http-games.ts';
import { SlpFake } from './fakes/minecraft-slp.ts';
import { RconFake } from './fakes/rcon-server.ts';
import { resolvedFor } from './fakes/servers.ts';

const TIMEOUT = 1500;
/** The length from the report: a start argument --map "<701 chars>". */
const LONG = 'M'.repeat(701);
/** Control characters, a bidi override, a zero-width space and half a surrogate pair. */
const ODD = 'a\u0000b\r\nc\u202eevil\u200b\ud800';

/** What the supervisor publishes from a probe's answer: it must pass the protocol's own schema. */
function statusFrom(r: QueryResult): ServerStatus {
  return {
    id: 's1', game: 'valheim', name: 'S1', managed: true, state: 'running', players: r.players, map: r.map, version: r.version,
    resources: { cpuPercent: null, rssBytes: null, diskFreeBytes: null, uptimeSec: null }, lastBackup: null, updatedAt: new Date(0).toISOString(),
  };
}

function assertPublishable(r: QueryResult, what: string): void {
  const checked = ServerStatusSchema.safeParse(statusFrom(r));
  assert.ok(checked.success, `${what}: ${checked.success ? '' : checked.error.message}`);
  for (const text of [r.map, r.version, ...r.players.names]) {
    if (text !== null) assert.doesNotMatch(text, /[\u0000-\u001f\u202e\u200b]|[\ud800-\udbff](?![\udc00-\udfff])/, `${what}: ${JSON.stringify(text)}`);
  }
}

let tls: { key: string; cert: string };
before(async () => {
  tls = await makeSelfSignedCert();
});

test('A2S: a 701-character map, long name/version and odd player names are cut to the status limits', async () => {
  // A2S strings end at a NUL byte, so the odd name carries \u0001 instead.
  const players = Array.from({ length: 20 }, (_, i) => ({ name: i % 2 ? `${ODD.replace('\u0000', '\u0001')}${i}` : `${'P'.repeat(300)}${i}` }));
  const info = { name: LONG, map: LONG, folder: 'ark_survival_evolved', game: 'ARK', appId: 346110, players: 20, maxPlayers: 70, version: 'V'.repeat(400), keywords: '' };
  const fake = new A2sFake({ info, players, splitAt: 1200 });
  const port = await fake.start();
  try {
    const r = await createStatusProbe(resolvedFor('ark', { queryPort: port }), { timeoutMs: TIMEOUT }).query();
    assert.equal(r.map, 'M'.repeat(StatusLimits.map));
    assert.equal(r.version, 'V'.repeat(StatusLimits.version));
    assert.equal(r.players.names.length, 20);
    assert.ok(r.players.names.includes('a b c evil \ufffd1'), JSON.stringify(r.players.names));
    assertPublishable(r, 'A2S');
  } finally {
    await fake.close();
  }
});

test('Minecraft, Palworld, Satisfactory and RCON listplayers: oversized and odd values are cut where they enter', async () => {
  const slp = new SlpFake({ status: { version: { name: LONG }, players: { online: -5, max: 1e300, sample: [{ name: LONG }, { name: 42 }, { name: ODD }] }, description: LONG } });
  const pal = new PalworldFake({ password: 'pal', players: [{ name: LONG }, { name: ODD }], maxPlayers: 16, version: LONG });
  const sat = new SatisfactoryFake({ adminToken: 'tok', players: 1, playerLimit: 4, session: `${ODD}${LONG}` });
  const rcon = new RconFake({ password: 'asa', dialect: 'ark', handler: (c) => (c === 'listplayers' ? `0. ${LONG}, 0002e3f1a\n1. ${ODD}, 0002e3f1b\n` : '') });
  const [slpPort, palPort, satPort, rconPort] = await Promise.all([slp.start(), pal.start(), sat.start(tls), rcon.start()]);
  const asa = createStatusProbe(resolvedFor('asa', { rconPort, password: 'asa', vars: { maxPlayers: '70', map: LONG } }), { timeoutMs: TIMEOUT });
  try {
    const results: [string, QueryResult][] = [
      ['minecraft', await createStatusProbe(resolvedFor('minecraft', { queryPort: slpPort }), { timeoutMs: TIMEOUT }).query()],
      ['palworld', await createStatusProbe(resolvedFor('palworld', { rconPort: palPort, password: 'pal' }), { timeoutMs: TIMEOUT }).query()],
      ['satisfactory', await createStatusProbe(resolvedFor('satisfactory', { queryPort: satPort, rconPort: satPort, password: 'tok' }), { timeoutMs: TIMEOUT }).query()],
      ['asa', await asa.query()],
    ];
    for (const [what, r] of results) assertPublishable(r, what);
    const byGame = Object.fromEntries(results);
    assert.deepEqual(byGame.minecraft!.players, { online: 0, max: 1_000_000, names: ['M'.repeat(128), 'a b c evil \ufffd'] });
    assert.equal(byGame.palworld!.version?.length, StatusLimits.version);
    assert.equal(byGame.satisfactory!.map?.length, StatusLimits.map);
    assert.equal(byGame.asa!.map?.length, StatusLimits.map, 'a map from the config is cut too');
    assert.equal(byGame.asa!.players.names[0]!.length, StatusLimits.playerName);
  } finally {
    await asa.close();
    await Promise.all([slp.close(), pal.close(), sat.close(), rcon.close()]);
  }
});

test('cleanText keeps surrogate pairs whole and never returns an empty string', () => {
  assert.equal(cleanText('😀'.repeat(200), 5), '😀😀', 'no half pair at the cut');
  assert.equal(cleanText(' \u0000\u200b ', 10), null);
  assert.equal(cleanText(12, 10), null);
  assert.equal(cleanText('x'.repeat(2_000_000), 256)?.length, 256);
});

test('fuzz: whatever a probe returns, the cleaned result is a publishable status', () => {
  let seed = 0x5eed;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const strings = () => pick([LONG, ODD, '', ' ', 'x'.repeat(Math.floor(rnd() * 5000)), '\ud83d', '\u0000'.repeat(300), 'é'.repeat(257), 'ok']);
  const odd = (): unknown => pick([strings, () => pick([-1, 1.5, NaN, Infinity, -Infinity, 2 ** 60, 1e308, 0]), () => null, () => undefined, () => ({}), () => [strings()], () => true, () => ({ length: 1e9 })])();
  for (let n = 0; n < 2000; n++) {
    const names = rnd() < 0.1 ? Array.from({ length: 600 }, odd) : Array.from({ length: Math.floor(rnd() * 8) }, odd);
    const raw = pick([
      { players: { online: odd(), max: odd(), names }, map: odd(), version: odd() },
      { players: odd(), map: odd(), version: odd() },
      odd(),
    ]);
    assertPublishable(cleanQueryResult(raw), `case ${n}: ${JSON.stringify(raw)?.slice(0, 200)}`);
  }
});
