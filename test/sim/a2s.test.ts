import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startSimServer } from '../../sim/game-server.ts';
import { A2S_INFO, a2sWithChallenge, Reader, spawnSim, udpAsk as udpAsk2, UdpClient } from './helpers.ts';

function challengeOf(payload: Buffer): number {
  assert.equal(payload[0], 0x41, `expected a challenge, got 0x${payload[0]?.toString(16)}`);
  return payload.readUInt32LE(1);
}

describe('A2S (child process, raw UDP)', () => {
  it('rust: INFO needs a rotating challenge, PLAYER splits at the MTU, keywords carry cp/mp', async (t) => {
    const names = Array.from({ length: 30 }, (_, i) => `Survivor_${String(i).padStart(2, '0')}`);
    const sim = await spawnSim(['--game', 'rust', '--players', names.join(','), '--max-players', '300',
      '--rotate-challenge', '--mtu', '120', '--game-port', '0', '--quiet'], t);
    const port = sim.ready.ports.query!;
    assert.notEqual(port, sim.ready.ports.game, 'Rust has its own query port');
    const udp = new UdpClient(port);
    t.after(() => udp.close());
    const udpAsk = (req: Buffer) => udp.ask(req);

    const c1 = challengeOf((await udpAsk(A2S_INFO)).payload);
    const reply = await udpAsk(a2sWithChallenge(0x54, c1));
    assert.ok(reply.datagrams > 1, 'INFO at mtu 120 comes split');
    const r = new Reader(reply.payload);
    assert.equal(r.byte(), 0x49);
    r.byte();
    assert.match(r.string(), /Rust/);
    r.string(); r.string(); r.string(); r.int16();
    assert.equal(r.byte(), 30, 'players');
    assert.equal(r.byte(), 255, 'max players capped at one byte');
    r.byte(); r.byte(); r.byte(); r.byte(); r.byte();
    r.string();
    const edf = r.byte();
    assert.equal(edf & 0xb1, 0xb1);
    assert.equal(r.int16(), sim.ready.ports.game, 'EDF game port');
    r.uint64();
    const keywords = r.string().split(',');
    assert.ok(keywords.includes('cp30') && keywords.includes('mp300'), keywords.join(','));
    assert.equal(Number(r.uint64() & 0xffffffn), 252490, 'Rust app id in the game id');

    // The challenge was used once: the same value again earns a fresh one.
    const c2 = challengeOf((await udpAsk(a2sWithChallenge(0x55, c1))).payload);
    assert.notEqual(c2, c1);
    const players = await udpAsk(a2sWithChallenge(0x55, c2));
    assert.ok(players.datagrams > 1, 'PLAYER at mtu 120 comes split');
    const p = new Reader(players.payload);
    assert.equal(p.byte(), 0x44);
    assert.equal(p.byte(), 30);
    const got: string[] = [];
    for (let i = 0; i < 30; i++) {
      p.byte();
      got.push(p.string());
      p.int32();
      assert.ok(p.float() >= 0);
    }
    assert.deepEqual(got, names);

    const c3 = challengeOf((await udpAsk(a2sWithChallenge(0x56, 0xffffffff))).payload);
    const rules = new Reader((await udpAsk(a2sWithChallenge(0x56, c3))).payload);
    assert.equal(rules.byte(), 0x45);
    assert.ok(rules.int16() > 0);
  });

  it('valheim (in-process): empty player names, version in keywords, RULES times out', async (t) => {
    const sim = await startSimServer({ game: 'valheim', players: ['Ragnar', 'Lagertha'], ports: { control: null } });
    t.after(() => sim.close());
    const udp = new UdpClient(sim.ports.query!);
    t.after(() => udp.close());
    const udpAsk = (req: Buffer, ms?: number) => udp.ask(req, ms);
    const c = challengeOf((await udpAsk(A2S_INFO)).payload);
    const info = new Reader((await udpAsk(a2sWithChallenge(0x54, c))).payload);
    info.byte(); info.byte();
    const fields = [info.string(), info.string(), info.string(), info.string()];
    assert.equal(fields[2], 'valheim');
    info.int16(); info.byte(); info.byte(); info.byte(); info.byte(); info.byte(); info.byte(); info.byte();
    assert.equal(info.string(), '1.0.0.0');
    info.byte(); info.int16(); info.uint64();
    assert.match(info.string(), /^g=0\.219\.16,/);

    // A fixed challenge stays good for the same client: the INFO one opens PLAYER too.
    const players = new Reader((await udpAsk(a2sWithChallenge(0x55, c))).payload);
    assert.equal(players.byte(), 0x44);
    assert.equal(players.byte(), 2);
    players.byte();
    assert.equal(players.string(), '');

    // The challenge is good; the RULES answer never comes.
    await assert.rejects(udpAsk(a2sWithChallenge(0x56, c), 300), /no UDP reply/);
    const stranger = await udpAsk2(sim.ports.query!, a2sWithChallenge(0x55, c));
    assert.equal(stranger.payload[0], 0x41, 'another client address cannot reuse the challenge');
  });

  it('ark without the INFO challenge answers INFO at once', async (t) => {
    const sim = await startSimServer({ game: 'ark', a2s: { infoChallenge: false }, ports: { control: null } });
    t.after(() => sim.close());
    const reply = await udpAsk2(sim.ports.query!, A2S_INFO);
    assert.equal(reply.payload[0], 0x49);
  });
});
