/**
 * The zstd reader on frames of any size (agent/backup/zstd-read.ts,
 * zstd-stream.ts): big frames from the real zstd CLI stream through fzstd,
 * small ones go whole to the real WASM pool, all in order; hostile headers are
 * refused before anything is allocated. `wholeFrameBytes` is made small so the
 * inputs stay a few MiB.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { decompressStream, FrameWriter, ZstdPool } from '../../../agent/backup/compress.ts';
import { readTar } from '../../../agent/backup/tar.ts';
import { frameHeaderBytes, parseFrameHeader } from '../../../agent/backup/zstd-frame.ts';
import { splitZstdFrames } from './zstd-frames.ts';
import { readZstd } from '../../../agent/backup/zstd-read.ts';
import { tempDir } from './helpers.ts';

const ZSTD = '/usr/bin/zstd';
const KiB = 1024;
const MiB = 1024 * KiB;
/** Frames above this stream: small, so a few MiB of input has big frames. */
const whole = 256 * KiB;
const opts = { wholeFrameBytes: whole };
/** A hang is a failure, not a stuck suite. */
const deadline = { timeout: 60_000 };

/** Half noise, half text, like a save; seeded, so a failing case replays. */
function sample(bytes: number, seed = 1): Buffer {
  const b = Buffer.alloc(bytes);
  let x = seed >>> 0 || 1;
  for (let off = 0; off < bytes; off += 8192) {
    for (let i = off; i < Math.min(bytes, off + 4096); i++) {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      b[i] = x & 0xff;
    }
    b.fill('player position inventory ', Math.min(bytes, off + 4096), Math.min(bytes, off + 8192));
  }
  return b;
}

/** The zstd CLI on a file (the header then carries the content size), with `args`. */
async function zstdFile(dir: string, data: Buffer, args: string[]): Promise<Buffer> {
  const f = path.join(dir, `in-${Math.random().toString(36).slice(2)}`);
  await fs.writeFile(f, data);
  execFileSync(ZSTD, ['-q', '-f', ...args, f, '-o', `${f}.zst`]);
  return fs.readFile(`${f}.zst`);
}

/** The zstd CLI reading a pipe: no content size in the header. */
function zstdPipe(data: Buffer, args: string[] = ['-1']): Buffer {
  return execFileSync(ZSTD, ['-c', ...args], { input: data, maxBuffer: 256 * MiB });
}

async function* pieces(buf: Buffer, size = 64 * KiB): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of it) out.push(c);
  return Buffer.concat(out);
}

function header(z: Buffer) {
  return parseFrameHeader(z.subarray(0, frameHeaderBytes(z)));
}

async function frameCount(z: Buffer): Promise<number> {
  let n = 0;
  for await (const f of splitZstdFrames(pieces(z), 1 << 30)) if (f.bound > 1) n++;
  return n;
}

/** The real pool, counting the frames it decoded whole. */
function countingPool(pool: ZstdPool) {
  const c = { size: pool.size, whole: 0, decompress: (f: Uint8Array, b: number) => (c.whole++, pool.decompress(f, b)) };
  return c;
}

test('one big frame from zstd -1 (one thread and -T0) streams, round-trips exactly, without the WASM pool', deadline, async (t) => {
  const dir = await tempDir(t);
  const pool = new ZstdPool({ size: 2, native: null });
  t.after(() => pool.close());
  const data = sample(3 * MiB + 12345);
  for (const args of [['-1', '--single-thread'], ['-1', '-T0'], ['-1', '--no-check']]) {
    const z = await zstdFile(dir, data, args);
    assert.equal(await frameCount(z), 1, `${args.join(' ')}: one frame`);
    assert.equal(header(z).contentSize, data.length, 'a file: the header says its size');
    const counted = countingPool(pool);
    assert.ok((await collect(readZstd(pieces(z), counted, opts))).equals(data), `${args.join(' ')} round-trips`);
    assert.equal(counted.whole, 0, 'streamed, not decoded whole');
    assert.ok((await collect(decompressStream(pieces(z, 777), 'tar.zst', pool, opts))).equals(data), 'odd source pieces too');
  }
});

test('the content checksum the zstd CLI writes is accepted at every tail length, a wrong one refused', deadline, async (t) => {
  const pool = new ZstdPool({ size: 1, native: null });
  t.after(() => pool.close());
  // XXH64 hashes 32-byte stripes, then 8-, 4- and 1-byte steps: 0–40 cover each tail, the rest cross stripes and blocks.
  const lengths = [...Array.from({ length: 41 }, (_, i) => i), 63, 64, 65, 100, 1000, 4096 + 13, 200_001, 600_003];
  // Every frame streams; 64 KiB pushes hash a multi-block frame across several pushes.
  const streamAll = { wholeFrameBytes: 0, pushInputBytes: 64 * KiB };
  for (const n of lengths) {
    const data = sample(n, 100 + n);
    const z = zstdPipe(data, ['-1', '--check']);
    assert.ok(header(z).checksum, `${n} bytes: the frame carries a checksum`);
    const counted = countingPool(pool);
    assert.ok((await collect(readZstd(pieces(z, 1000), counted, streamAll))).equals(data), `${n} bytes: accepted, exact`);
    assert.equal(counted.whole, 0, `${n} bytes: streamed`);
    const bad = Buffer.from(z);
    bad[bad.length - 4] = bad[bad.length - 4]! ^ 0x80; // the checksum's low byte: the content is right, the check is not
    await assert.rejects(collect(readZstd(pieces(bad), pool, streamAll)), /corrupt zstd stream \(content checksum mismatch\)/, `${n} bytes: wrong checksum refused`);
  }
});

test('a big frame without a content size (zstd reading a pipe) streams once it outgrows the bound', deadline, async (t) => {
  const pool = new ZstdPool({ size: 1, native: null });
  t.after(() => pool.close());
  const data = sample(2 * MiB + 7, 2);
  const z = zstdPipe(data);
  assert.equal(header(z).contentSize, null);
  const counted = countingPool(pool);
  assert.ok((await collect(readZstd(pieces(z), counted, opts))).equals(data));
  assert.equal(counted.whole, 0);
});

test('small, big, empty and skippable frames in any order come out exactly and in order', deadline, async (t) => {
  const dir = await tempDir(t);
  const pool = new ZstdPool({ size: 2, native: null });
  t.after(() => pool.close());
  const parts: Record<string, { data: Buffer; z: Buffer }> = {};
  const small = sample(100 * KiB, 3);
  parts.small = { data: small, z: await zstdFile(dir, small, ['-1']) };
  const big = sample(2 * MiB + 99, 4);
  parts.big = { data: big, z: await zstdFile(dir, big, ['-1', '-T0']) };
  const bigPipe = sample(MiB + 5, 5);
  parts.bigPipe = { data: bigPipe, z: zstdPipe(bigPipe, ['-3']) };
  parts.empty = { data: Buffer.alloc(0), z: await zstdFile(dir, Buffer.alloc(0), ['-1']) };
  const skippable = Buffer.alloc(8 + 1000, 0xab);
  skippable.writeUInt32LE(0x184d2a53, 0);
  skippable.writeUInt32LE(1000, 4);
  parts.skip = { data: Buffer.alloc(0), z: skippable };
  // Our own writer: bounded frames from the WASM pool.
  const ours = sample(600 * KiB, 6);
  const frames: Buffer[] = [];
  const w = new FrameWriter({ format: 'tar.zst', pool, output: async (b) => void frames.push(Buffer.from(b)) });
  for (let i = 0; i < ours.length; i += 200 * KiB) await w.write(Buffer.from(ours.subarray(i, i + 200 * KiB)));
  await w.end();
  parts.ours = { data: ours, z: Buffer.concat(frames) };

  const orders = [
    ['small', 'big', 'empty', 'skip', 'ours', 'bigPipe'],
    ['big', 'bigPipe', 'small', 'small', 'skip', 'empty', 'big'],
    ['skip', 'empty', 'ours', 'big', 'ours', 'small', 'empty'],
    ['ours', 'small', 'ours', 'small', 'big', 'skip'],
  ];
  for (const order of orders) {
    const z = Buffer.concat(order.map((k) => parts[k]!.z));
    const want = Buffer.concat(order.map((k) => parts[k]!.data));
    const counted = countingPool(pool);
    const got = await collect(readZstd(pieces(z, 50_000), counted, opts));
    assert.ok(got.equals(want), `${order.join(', ')}: ${got.length} bytes, want ${want.length}`);
    const wholeFrames = order.reduce((n, k) => n + (k === 'small' || k === 'empty' ? 1 : k === 'ours' ? 3 : 0), 0);
    assert.equal(counted.whole, wholeFrames, `${order.join(', ')}: small frames went whole to the pool`);
  }
});

test('streaming is real: a big frame\'s first bytes come out before its last bytes were read', deadline, async (t) => {
  const dir = await tempDir(t);
  const pool = new ZstdPool({ size: 1, native: null });
  t.after(() => pool.close());
  const data = sample(6 * MiB, 7);
  const z = await zstdFile(dir, data, ['-1']);
  let given = 0;
  async function* source(): AsyncGenerator<Buffer> {
    for (let i = 0; i < z.length; i += 64 * KiB) {
      const piece = z.subarray(i, i + 64 * KiB);
      given += piece.length;
      yield piece;
    }
  }
  let givenAtFirst = -1;
  const out: Buffer[] = [];
  for await (const c of decompressStream(source(), 'tar.zst', pool, opts)) {
    if (givenAtFirst < 0) givenAtFirst = given;
    out.push(c);
  }
  assert.ok(Buffer.concat(out).equals(data));
  assert.ok(givenAtFirst > 0 && givenAtFirst <= z.length / 2, `first output after ${givenAtFirst} of ${z.length} bytes read`);
});

/** A big frame with a content size (from a file), the base of the hostile cases. */
async function bigFrame(t: Parameters<typeof tempDir>[0], seed: number): Promise<{ data: Buffer; z: Buffer }> {
  const data = sample(3 * MiB, seed);
  return { data, z: await zstdFile(await tempDir(t), data, ['-1']) };
}

test('hostile: a 2 GiB window is refused, naming the window and the limit', deadline, async (t) => {
  const pool = new ZstdPool({ size: 1, native: null });
  t.after(() => pool.close());
  const { z } = await bigFrame(t, 8);
  const h = header(z);
  assert.equal(h.singleSegment, false);
  const bad = Buffer.from(z);
  bad[5] = 21 << 3; // window descriptor: 2^(10+21) bytes
  await assert.rejects(collect(decompressStream(pieces(bad), 'tar.zst', pool, opts)), /zstd frame window of 2147483648 bytes is above the 8388608 bytes this reader accepts/);
});

test('hostile: a single-segment frame with a huge content size is refused before any allocation', deadline, async (t) => {
  const pool = new ZstdPool({ size: 1, native: null });
  t.after(() => pool.close());
  // The blocks of a real frame under a forged header: single segment (window = content size), 200 MiB.
  const real = zstdPipe(sample(MiB, 9));
  const forged = Buffer.alloc(4 + 1 + 8);
  forged.writeUInt32LE(0xfd2fb528, 0);
  forged[4] = (3 << 6) | (1 << 5) | (1 << 2); // 8-byte content size, single segment, checksum
  forged.writeBigUInt64LE(200n * BigInt(MiB), 5);
  const bad = Buffer.concat([forged, real.subarray(6)]);
  await assert.rejects(collect(decompressStream(pieces(bad), 'tar.zst', pool, opts)), /zstd frame of 209715200 bytes in a single segment .* above the 8388608-byte window/);
});

test('hostile: a dictionary id, a reserved bit, an oversized block are refused', deadline, async (t) => {
  const pool = new ZstdPool({ size: 1, native: null });
  t.after(() => pool.close());
  const real = zstdPipe(sample(50 * KiB, 10)); // small: it would go whole to the pool
  assert.equal(real[4]! & 3, 0, 'no dictionary id field');
  const dict = Buffer.concat([real.subarray(0, 4), Buffer.from([real[4]! | 1, real[5]!, 42]), real.subarray(6)]);
  await assert.rejects(collect(decompressStream(pieces(dict), 'tar.zst', pool, opts)), /zstd frame needs dictionary 42; ReconSync archives never use a dictionary/);
  const reserved = Buffer.from(real);
  reserved[4] = reserved[4]! | 8;
  await assert.rejects(collect(decompressStream(pieces(reserved), 'tar.zst', pool, opts)), /corrupt zstd stream \(reserved bit set in the frame header\)/);
  const block = Buffer.from(real);
  const size = 200 * KiB; // raw block, above the 128 KiB any block may hold
  block.writeUIntLE((size << 3) | 0, 6, 3);
  await assert.rejects(collect(decompressStream(pieces(block), 'tar.zst', pool, opts)), /corrupt zstd stream \(block of 204800 bytes; blocks hold at most 131072\)/);
});

test('hostile: a truncated big frame ends in "truncated zstd stream", after streaming what it had', deadline, async (t) => {
  const pool = new ZstdPool({ size: 1, native: null });
  t.after(() => pool.close());
  const { data, z } = await bigFrame(t, 11);
  const cut = z.subarray(0, Math.floor(z.length * 0.6));
  let out = 0;
  await assert.rejects(async () => {
    // Pushes of 256 KiB: the cut comes several pushes into the frame.
    for await (const c of decompressStream(pieces(cut), 'tar.zst', pool, { ...opts, pushInputBytes: 256 * KiB })) out += c.length;
  }, /truncated zstd stream/);
  assert.ok(out > 0 && out < data.length, `streamed ${out} bytes before the end`);
});

test('hostile: a flipped byte anywhere in a big frame is an error (checksum, size or format), never garbage or a hang', deadline, async (t) => {
  const pool = new ZstdPool({ size: 1, native: null });
  t.after(() => pool.close());
  const { z } = await bigFrame(t, 12);
  for (const at of [0.2, 0.35, 0.5, 0.65, 0.8, 0.95]) {
    const bad = Buffer.from(z);
    const i = Math.floor(z.length * at);
    bad[i] = bad[i]! ^ 0xff;
    await assert.rejects(collect(decompressStream(pieces(bad), 'tar.zst', pool, opts)), /corrupt zstd stream|truncated zstd stream|not a zstd stream/, `byte ${i} flipped`);
  }
  // The frame's checksum alone: the content is right, the check is not.
  const badSum = Buffer.from(z);
  badSum[badSum.length - 1] = badSum[badSum.length - 1]! ^ 1;
  await assert.rejects(collect(decompressStream(pieces(badSum), 'tar.zst', pool, opts)), /corrupt zstd stream \(content checksum mismatch\)/);
});

test('hostile: a content size that is not what the frame decodes to is refused (the checksum alone would pass it)', deadline, async (t) => {
  const pool = new ZstdPool({ size: 1, native: null });
  t.after(() => pool.close());
  const { data, z } = await bigFrame(t, 15);
  assert.equal(z[4]! >> 6, 2, '4-byte content size at offset 6');
  for (const claimed of [data.length + 1000, data.length - 1000]) {
    const bad = Buffer.from(z);
    bad.writeUInt32LE(claimed, 6);
    const said = claimed > data.length ? `decodes to ${data.length}` : 'decodes to more';
    await assert.rejects(collect(decompressStream(pieces(bad), 'tar.zst', pool, opts)), new RegExp(`corrupt zstd stream \\(the frame says ${claimed} bytes and ${said}\\)`));
  }
});

test('restore path: GNU tar of a folder with one big file, one zstd frame, read back entry by entry through readTar', deadline, async (t) => {
  const dir = await tempDir(t);
  const pool = new ZstdPool({ size: 2, native: null });
  t.after(() => pool.close());
  const world = path.join(dir, 'world');
  await fs.mkdir(path.join(world, 'players'), { recursive: true });
  const files: Record<string, Buffer> = {
    'world/Dedicated.db': sample(4 * MiB + 321, 13),
    'world/Dedicated.fwl': Buffer.from('meta'),
    'world/players/p1.sav': sample(70_000, 14),
  };
  for (const [p, b] of Object.entries(files)) await fs.writeFile(path.join(dir, p), b);
  const tarFile = path.join(dir, 'w.tar');
  execFileSync('tar', ['-cf', tarFile, '-C', dir, 'world']);
  execFileSync(ZSTD, ['-q', '-1', '-T0', tarFile, '-o', `${tarFile}.zst`]);
  const z = await fs.readFile(`${tarFile}.zst`);
  assert.equal(await frameCount(z), 1, 'the whole tar is one frame');

  const seen: Record<string, Buffer> = {};
  const source = createReadStream(`${tarFile}.zst`, { highWaterMark: MiB });
  for await (const entry of readTar(decompressStream(source, 'tar.zst', pool, opts))) {
    if (entry.header.type !== 'file') continue;
    seen[entry.header.path] = await collect(entry.body());
  }
  assert.deepEqual(Object.keys(seen).sort(), Object.keys(files).sort());
  for (const [p, b] of Object.entries(files)) assert.ok(seen[p]!.equals(b), `${p}: same bytes`);
});
