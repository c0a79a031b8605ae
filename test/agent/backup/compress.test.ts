import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { decompressStream, FrameWriter, ZstdPool, type ArchiveFormat } from '../../../agent/backup/compress.ts';
import { splitZstdFrames } from './zstd-frames.ts';
import { saveLike } from './helpers.ts';


async function compressAll(format: ArchiveFormat, pool: ZstdPool | null, data: Buffer, chunk: number): Promise<Buffer> {
  const out: Buffer[] = [];
  const w = new FrameWriter({ format, pool, output: async (b) => void out.push(Buffer.from(b)) });
  for (let i = 0; i < data.length; i += chunk) {
    const c = Buffer.allocUnsafeSlow(Math.min(chunk, data.length - i));
    data.copy(c, 0, i, i + c.length);
    await w.write(c);
  }
  await w.end();
  return Buffer.concat(out);
}

async function* pieces(buf: Buffer, size = 100_000): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of it) out.push(c);
  return Buffer.concat(out);
}

test('zstd (WASM): independent frames in order; the system zstd decodes the concatenation', async (t) => {
  const pool = new ZstdPool({ size: 2, native: null });
  t.after(() => pool.close());
  const data = saveLike(5 * 1024 * 1024 + 12345);
  const z = await compressAll('tar.zst', pool, data, 1024 * 1024);
  const frames = [];
  for await (const f of splitZstdFrames(pieces(z))) frames.push(f);
  assert.equal(frames.length, 6, 'one frame per chunk');
  assert.ok(z.length < data.length * 0.7, `compressed to ${z.length}`);
  assert.ok(execFileSync('/usr/bin/zstd', ['-dc'], { input: z, maxBuffer: 64 << 20 }).equals(data), 'zstd -d gives back the input');
  assert.ok((await collect(decompressStream(pieces(z), 'tar.zst', pool))).equals(data), 'our decoder too');
});

test('zstd: we decode a stream written by the zstd CLI (content size unknown)', async (t) => {
  const pool = new ZstdPool({ size: 1 });
  t.after(() => pool.close());
  const data = saveLike(700_000);
  const z = execFileSync('/usr/bin/zstd', ['-c', '-3', '--no-content-size'], { input: data });
  assert.ok((await collect(decompressStream(pieces(z, 4096), 'tar.zst', pool))).equals(data));
});

test('zstd: many tiny frames (pooled small buffers) decode correctly', async (t) => {
  const pool = new ZstdPool({ size: 2, native: null });
  t.after(() => pool.close());
  const data = saveLike(50_000);
  const z = await compressAll('tar.zst', pool, data, 1000);
  assert.ok((await collect(decompressStream(pieces(z, 777), 'tar.zst', pool))).equals(data));
});

test('gzip: members in order; gzip -d and our decoder read it', async () => {
  const data = saveLike(3 * 1024 * 1024 + 7);
  const gz = await compressAll('tar.gz', null, data, 1024 * 1024);
  assert.ok(execFileSync('gzip', ['-dc'], { input: gz, maxBuffer: 64 << 20 }).equals(data));
  assert.ok((await collect(decompressStream(pieces(gz), 'tar.gz', null))).equals(data));
});

test('a corrupt zstd stream is an error, not garbage', async (t) => {
  const pool = new ZstdPool({ size: 1 });
  t.after(() => pool.close());
  const z = await compressAll('tar.zst', pool, saveLike(200_000), 1 << 20);
  await assert.rejects(collect(decompressStream(pieces(z.subarray(0, z.length - 10)), 'tar.zst', pool)), /truncated zstd stream/);
  const bad = Buffer.from(z);
  bad.writeUInt32LE(0x12345678, 0);
  await assert.rejects(collect(decompressStream(pieces(bad), 'tar.zst', pool)), /not a zstd stream/);
});

test('a closed pool refuses work, and the process is not kept alive by idle workers', async () => {
  const pool = new ZstdPool({ size: 1 });
  const out = await pool.compress(Buffer.from('x'.repeat(1000)), 1);
  assert.ok(out.byteLength > 0);
  await pool.close();
  await assert.rejects(pool.compress(Buffer.from('y'), 1), /closed/);
});
