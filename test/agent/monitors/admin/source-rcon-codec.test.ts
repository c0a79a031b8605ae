import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_MAX_PACKET_SIZE, PacketDecoder, PacketType, RconProtocolError, decodePacket, encodePacket,
} from '../../../../agent/monitors/admin/source-rcon-codec.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('encodes an AUTH packet byte for byte (Valve wiki layout)', () => {
  const buf = encodePacket({ id: 7, type: PacketType.AUTH, body: 'pw' });
  // size 12 = id 4 + type 4 + "pw" 2 + two NULs
  assert.deepEqual(buf, hex('0c000000 07000000 03000000 7077 00 00'));
});

test('decodes a packet and strips both terminators', () => {
  const p = decodePacket(hex('0f000000 2a000000 00000000 68656c6c6f 00 00'));
  assert.deepEqual(p, { id: 42, type: 0, body: 'hello' });
});

test('tolerates a packet with a single terminator', () => {
  const p = decodePacket(hex('0c000000 01000000 02000000 616263 00'));
  assert.deepEqual(p, { id: 1, type: 2, body: 'abc' });
});

test('round-trips UTF-8 bodies and negative ids (auth failure id -1)', () => {
  const p = { id: -1, type: PacketType.AUTH_RESPONSE, body: 'Grüße ✓' };
  assert.deepEqual(decodePacket(encodePacket(p)), p);
});

test('reassembles a packet fed one byte at a time', () => {
  const d = new PacketDecoder();
  const bytes = encodePacket({ id: 5, type: 0, body: 'split across chunks' });
  const out = [];
  for (const b of bytes) out.push(...d.push(Buffer.from([b])));
  assert.deepEqual(out, [{ id: 5, type: 0, body: 'split across chunks' }]);
  assert.equal(d.pending, 0);
});

test('returns several packets from one chunk and keeps the remainder', () => {
  const d = new PacketDecoder();
  const a = encodePacket({ id: 1, type: 0, body: 'one' });
  const b = encodePacket({ id: 2, type: 0, body: 'two' });
  const c = encodePacket({ id: 3, type: 0, body: 'three' });
  const all = Buffer.concat([a, b, c]);
  const first = d.push(all.subarray(0, a.length + b.length + 5));
  assert.deepEqual(first.map((p) => p.body), ['one', 'two']);
  assert.equal(d.pending, 5);
  assert.deepEqual(d.push(all.subarray(a.length + b.length + 5)).map((p) => p.body), ['three']);
});

test('srcds-style multi-packet reply: parts then the terminator echo in one chunk', () => {
  const d = new PacketDecoder();
  const big = 'x'.repeat(4000);
  const stream = Buffer.concat([
    encodePacket({ id: 10, type: 0, body: big }),
    encodePacket({ id: 10, type: 0, body: 'tail' }),
    encodePacket({ id: 11, type: 0, body: '' }),
    encodePacket({ id: 11, type: 0, body: '\u0000\u0001\u0000\u0000' }),
  ]);
  const packets = [...d.push(stream.subarray(0, 3000)), ...d.push(stream.subarray(3000))];
  assert.deepEqual(packets.map((p) => [p.id, p.body.length]), [[10, 4000], [10, 4], [11, 0], [11, 4]]);
});

test('a negative size is an error, not a crash or a huge wait', () => {
  const d = new PacketDecoder();
  assert.throws(() => d.push(hex('ffffffff 00000000')), RconProtocolError);
  assert.equal(d.pending, 0, 'the decoder drops its buffer after a protocol error');
});

test('a size below the minimum is an error', () => {
  assert.throws(() => new PacketDecoder().push(hex('04000000 01000000')), /invalid packet size 4/);
});

test('a huge size is refused before buffering', () => {
  const d = new PacketDecoder();
  assert.throws(() => d.push(hex('ffffff7f')), /invalid packet size 2147483647/);
  const small = new PacketDecoder({ maxPacketSize: 100 });
  const buf = Buffer.alloc(4);
  buf.writeInt32LE(101);
  assert.throws(() => small.push(buf), RconProtocolError);
  assert.equal(DEFAULT_MAX_PACKET_SIZE, 1024 * 1024);
});

test('decodePacket rejects a size field that disagrees with the bytes', () => {
  assert.throws(() => decodePacket(hex('20000000 01000000 00000000 0000')), /does not match/);
});
