/**
 * Backups through the system zstd binary (agent/backup/zstd-native.ts), read
 * back by our own extractor (WASM), and the fall-back to WASM when zstd is not
 * on PATH. The real /usr/bin/zstd runs; nothing is stubbed but a failing binary.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { createArchive } from '../../../agent/backup/archive.ts';
import { splitZstdFrames, ZstdPool } from '../../../agent/backup/compress.ts';
import { extractArchive } from '../../../agent/backup/extract.ts';
import { findZstd } from '../../../agent/backup/zstd-native.ts';
import { readTree, tempDir, writeTree } from './helpers.ts';

const sel = (savePaths: string[]) => ({ savePaths, include: [], exclude: [], sqlite: [] });
const MiB = 1024 * 1024;

/** Half noise, half text, like a save. */
function sample(bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (let off = 0; off < bytes; off += 8192) {
    randomBytes(4096).copy(b, off);
    b.fill('player position inventory ', Math.min(bytes, off + 4096), Math.min(bytes, off + 8192));
  }
  return b;
}

async function framesOf(file: string): Promise<number[]> {
  const bounds: number[] = [];
  async function* read() { yield await fs.readFile(file); }
  for await (const f of splitZstdFrames(read())) bounds.push(f.bound);
  return bounds;
}

async function world(dir: string): Promise<string> {
  const w = path.join(dir, 'worlds_local');
  await writeTree(w, { 'Dedicated.db': sample(5 * MiB + 4321), 'Dedicated.fwl': 'meta', 'players/p1.sav': sample(70_000) });
  return w;
}

test('zstd on PATH: found, used for backups in bounded frames, and the archive restores through our own (WASM) extractor', async (t) => {
  const zstd = findZstd();
  assert.ok(zstd, 'this test needs zstd on PATH (it is installed on CI)');
  const dir = await tempDir(t);
  const w = await world(dir);
  const pool = new ZstdPool({ size: 1, native: 'auto', nativeFrameBytes: MiB });
  t.after(() => pool.close());
  assert.equal(pool.native, zstd);

  const out = path.join(dir, 'out');
  const r = await createArchive({ source: sel([w]), dir: out, id: 'n1', format: 'tar.zst', pool, tmpDir: path.join(dir, 'tmp'), chunkBytes: 256 * 1024 });
  const bytes = await fs.readFile(r.archivePath);
  assert.equal(r.size, bytes.length);
  assert.equal(r.sha256, execFileSync('sha256sum', [r.archivePath], { encoding: 'utf8' }).split(' ')[0], 'hashed as written');
  const frames = await framesOf(r.archivePath);
  // 256 KiB tar chunks, 1 MiB native frames: WASM would have written one frame per chunk (~22).
  assert.ok(frames.length >= 5 && frames.length <= 7, `one frame per MiB of tar, got ${frames.length}`);
  assert.deepEqual((await fs.readdir(out)).sort(), ['n1.tar.zst'], 'no .partial left');

  const staging = path.join(dir, 'restored');
  await fs.mkdir(staging);
  await extractArchive({ archivePath: r.archivePath, format: 'tar.zst', pool, roots: r.roots, staging: { worlds_local: staging }, maxBytes: 64 * MiB });
  assert.deepEqual(await readTree(staging), await readTree(w));
});

test('zstd not on PATH: the WASM pool compresses (one frame per chunk), and the archive is the same tar', async (t) => {
  const dir = await tempDir(t);
  const w = await world(dir);
  const bin = path.join(dir, 'bin-without-zstd');
  await fs.mkdir(bin);
  assert.equal(findZstd({ PATH: bin }), null);
  assert.equal(findZstd({ PATH: '' }), null);
  const pool = new ZstdPool({ size: 1, native: 'auto', env: { PATH: bin } });
  t.after(() => pool.close());
  assert.equal(pool.native, null);
  const plain = new ZstdPool({ size: 1 });
  await plain.close();
  assert.equal(plain.native, null, 'WASM unless asked for native');

  const r = await createArchive({ source: sel([w]), dir: path.join(dir, 'out'), id: 'w1', format: 'tar.zst', pool, tmpDir: path.join(dir, 'tmp'), chunkBytes: MiB });
  assert.equal((await framesOf(r.archivePath)).length, 6, 'one WASM frame per 1 MiB chunk');
  const x = path.join(dir, 'x');
  await fs.mkdir(x);
  execFileSync('bash', ['-c', `/usr/bin/zstd -dc "${r.archivePath}" | tar -xf - -C "${x}"`]);
  assert.deepEqual(await readTree(path.join(x, 'worlds_local')), await readTree(w));

  // The same PATH with zstd in it: found there.
  await fs.symlink(findZstd()!, path.join(bin, 'zstd'));
  assert.equal(findZstd({ PATH: `/nonexistent:${bin}` }), path.join(bin, 'zstd'));
});

test('a zstd that fails: the backup fails with its exit code, leaves no .partial, and does not hang', async (t) => {
  const dir = await tempDir(t);
  const w = await world(dir);
  const pool = new ZstdPool({ size: 1, native: '/bin/false', nativeFrameBytes: MiB });
  t.after(() => pool.close());
  const out = path.join(dir, 'out');
  await assert.rejects(
    createArchive({ source: sel([w]), dir: out, id: 'f1', format: 'tar.zst', pool, tmpDir: path.join(dir, 'tmp'), chunkBytes: 256 * 1024 }),
    /zstd \(\/bin\/false\) failed with exit code 1/,
  );
  assert.deepEqual(await fs.readdir(out).catch(() => []), []);
});
