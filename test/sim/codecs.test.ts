import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeRequest, encodeInfo, encodePlayers, splitPacket, type InfoFields } from '../../sim/a2s-codec.ts';
import { parseCommand } from '../../sim/commands.ts';
import { encodeRcon, RconDecoder, RconFrameError, splitBody } from '../../sim/rcon-codec.ts';
import { readVarInt, writeVarInt } from '../../sim/slp.ts';
import { stripTelnetNegotiation } from '../../sim/telnet.ts';
import { A2S_INFO, a2sWithChallenge, Reader } from './helpers.ts';

const info: InfoFields = {
  protocol: 17, name: 'Srv', map: 'TheIsland', folder: 'ark', game: 'ARK', appId: 346110, players: 2, maxPlayers: 70, bots: 0,
  serverType: 'd', environment: 'l', passwordProtected: false, vac: false, version: '1.0', gamePort: 7777, steamId: 5n, keywords: 'mp70,cp2',
};

describe('A2S codec', () => {
  it('decodes info with and without challenge, and player/rules requests', () => {
    assert.deepEqual(decodeRequest(A2S_INFO), { kind: 'info', challenge: null });
    assert.deepEqual(decodeRequest(a2sWithChallenge(0x54, 0xdeadbeef)), { kind: 'info', challenge: 0xdeadbeef });
    assert.deepEqual(decodeRequest(a2sWithChallenge(0x55, 0xffffffff)), { kind: 'player', challenge: 0xffffffff });
    assert.deepEqual(decodeRequest(a2sWithChallenge(0x56, 7)), { kind: 'rules', challenge: 7 });
    assert.equal(decodeRequest(Buffer.from('ffffffff54', 'hex')), null, 'info without payload');
    assert.equal(decodeRequest(Buffer.from('hello')), null);
  });

  it('encodes INFO with the EDF fields in order and the big app id in the game id', () => {
    const r = new Reader(encodeInfo(info));
    assert.equal(r.int32(), -1);
    assert.equal(r.byte(), 0x49);
    assert.equal(r.byte(), 17);
    assert.deepEqual([r.string(), r.string(), r.string(), r.string()], ['Srv', 'TheIsland', 'ark', 'ARK']);
    assert.equal(r.int16(), 0, 'app id > 16 bits goes in EDF 0x01');
    assert.deepEqual([r.byte(), r.byte(), r.byte()], [2, 70, 0]);
    assert.deepEqual([String.fromCharCode(r.byte()), String.fromCharCode(r.byte())], ['d', 'l']);
    assert.deepEqual([r.byte(), r.byte()], [0, 0]);
    assert.equal(r.string(), '1.0');
    assert.equal(r.byte(), 0x80 | 0x10 | 0x20 | 0x01);
    assert.equal(r.int16(), 7777);
    assert.equal(r.uint64(), 5n);
    assert.equal(r.string(), 'mp70,cp2');
    assert.equal(Number(r.uint64() & 0xffffffn), 346110);
    assert.equal(r.off, r.buf.length);
  });

  it('splits a long reply into numbered packets that reassemble byte for byte', () => {
    const full = encodePlayers(Array.from({ length: 40 }, (_, i) => ({ name: `player-number-${i}`, score: i, seconds: i })));
    const parts = splitPacket(full, 200, 0x1234);
    assert.ok(parts.length > 1);
    for (const [n, p] of parts.entries()) {
      assert.ok(p.length <= 200);
      assert.equal(p.readInt32LE(0), -2);
      assert.equal(p.readInt32LE(4), 0x1234);
      assert.equal(p[8], parts.length);
      assert.equal(p[9], n);
      assert.equal(p.readUInt16LE(10), 200);
    }
    assert.deepEqual(Buffer.concat(parts.map((p) => p.subarray(12))), full);
    assert.equal(splitPacket(full, 65_000, 1).length, 1, 'fits: one plain packet');
  });
});

describe('RCON codec', () => {
  it('reassembles packets across any chunking, one byte at a time included', () => {
    const bytes = Buffer.concat([encodeRcon(1, 3, 'pw'), encodeRcon(2, 2, 'saveworld'), encodeRcon(3, 0, '')]);
    const d = new RconDecoder(4096);
    const got = [...bytes].flatMap((b) => d.push(Buffer.from([b])));
    assert.deepEqual(got, [{ id: 1, type: 3, body: 'pw' }, { id: 2, type: 2, body: 'saveworld' }, { id: 3, type: 0, body: '' }]);
  });

  it('rejects a size below 10 or above the limit', () => {
    const bad = Buffer.alloc(12);
    bad.writeInt32LE(4, 0);
    assert.throws(() => new RconDecoder(4096).push(bad), RconFrameError);
    assert.throws(() => new RconDecoder(64).push(encodeRcon(1, 2, 'x'.repeat(100))), RconFrameError);
  });

  it('splits long output without cutting a UTF-8 character', () => {
    const text = 'é'.repeat(3000);
    const parts = splitBody(text, 4095);
    assert.ok(parts.length >= 2);
    assert.ok(parts.every((p) => p.length <= 4095));
    assert.equal(Buffer.concat(parts).toString('utf8'), text);
    assert.ok(parts.every((p) => !p.toString('utf8').includes('\ufffd')));
  });
});

describe('commands, telnet, varint', () => {
  it('parses per game: quotes removed, Rust global. prefix, unknown names', () => {
    assert.deepEqual(parseCommand('7dtd', 'say "hello there"'), { name: 'say', action: 'broadcast', args: 'hello there' });
    assert.deepEqual(parseCommand('rust', 'global.quit'), { name: 'quit', action: 'stop', args: '' });
    assert.equal(parseCommand('ark', 'SaveWorld').action, 'save');
    assert.equal(parseCommand('ark', 'save').action, 'unknown', 'ARK has no "save"');
    assert.equal(parseCommand('minecraft', 'save-all flush').action, 'save');
    assert.equal(parseCommand('pzomboid', 'servermsg "hi"').args, 'hi');
  });

  it('strips telnet option negotiation and keeps escaped 0xFF', () => {
    const input = Buffer.from([0xff, 0xfb, 0x01, 0x61, 0xff, 0xfa, 0x18, 0x00, 0xff, 0xf0, 0x62, 0xff, 0xff, 0x0d, 0x0a]);
    assert.deepEqual([...stripTelnetNegotiation(input)], [0x61, 0x62, 0xff, 0x0d, 0x0a]);
  });

  it('round-trips varints', () => {
    for (const n of [0, 1, 127, 128, 255, 25565, 2097151, 2147483647]) {
      assert.deepEqual(readVarInt(writeVarInt(n), 0), { value: n, size: writeVarInt(n).length });
    }
    assert.equal(readVarInt(Buffer.from([0x80]), 0), null, 'incomplete');
  });
});
