/**
 * Large save files read by the zstd binary itself (zstd-native.ts direct(),
 * copy.ts directFile): through a /proc link to the file the archiver holds
 * open, one frame per file, stat compared once zstd is past it; and what a
 * planted link or FIFO, a file that grows, or a path swapped for another file
 * does to it. The real /usr/bin/zstd and our own (WASM + streaming) reader.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { createArchive } from '../../../agent/backup/archive.ts';
import { ZstdPool } from '../../../agent/backup/compress.ts';
import { extractArchive } from '../../../agent/backup/extract.ts';
import { verifyRestorable } from '../../../agent/backup/verify.ts';
import { fdLinker, findZstd, NativeZstdWriter } from '../../../agent/backup/zstd-native.ts';
import { ZstdLauncher } from '../../../agent/backup/zstd-launcher.ts';
import { framesOf, readTree, saveLike, tempDir, writeTree } from './helpers.ts';

const sel = (savePaths: string[]) => ({ savePaths, include: [], exclude: [], sqlite: [] });
const MiB = 1024 * 1024;
const ZSTD = findZstd();
const LINUX = process.platform === 'linux';
const needs = { skip: ZSTD && LINUX ? false : 'needs zstd on PATH and Linux (CI has both)' };

/** Decompressed size of every non-empty frame, in order. */
const frameSizes = async (file: string) => (await framesOf(file, 64 * MiB)).filter((b) => b > 1);

async function archiveOf(t: { after(fn: () => Promise<void> | void): void }, dir: string, src: string, extra: Partial<Parameters<typeof createArchive>[0]> = {}) {
  const pool = new ZstdPool({ size: 1, nativeFrameBytes: 256 * 1024 });
  t.after(() => pool.close());
  const r = await createArchive({ source: sel([src]), dir: path.join(dir, 'out'), id: 'a1', format: 'tar.zst', pool, tmpDir: path.join(dir, 'tmp'), smallFileBytes: MiB, chunkBytes: 64 * 1024, ...extra });
  return { r, pool };
}

async function restored(dir: string, r: Awaited<ReturnType<typeof createArchive>>, pool: ZstdPool, root: string): Promise<Record<string, string>> {
  const staging = path.join(dir, 'restored');
  await fs.mkdir(staging, { recursive: true });
  await extractArchive({ archivePath: r.archivePath, format: 'tar.zst', pool, roots: r.roots, staging: { [root]: staging }, maxBytes: 256 * MiB });
  return readTree(staging);
}

test('fdLinker: a /proc link on Linux only (elsewhere zstd reads nothing by itself)', () => {
  if (LINUX) assert.equal(fdLinker()?.(42), `/proc/${process.pid}/fd/42`);
  assert.equal(fdLinker('win32'), null);
  assert.equal(fdLinker('darwin'), null);
});

test('large files are read by zstd itself: one frame each (of their size), the rest in bounded frames; hashed as written, verified and restored by our reader', needs, async (t) => {
  const dir = await tempDir(t);
  const w = path.join(dir, 'world');
  await writeTree(w, { 'big.db': saveLike(3 * MiB + 1234), 'sub/other.db': saveLike(2 * MiB), 'small.sav': saveLike(300_000), 'meta.fwl': 'meta' });
  const { r, pool } = await archiveOf(t, dir, w);
  assert.equal(r.sha256, execFileSync('sha256sum', [r.archivePath], { encoding: 'utf8' }).split(' ')[0], 'hashed as written');
  const sizes = await frameSizes(r.archivePath);
  assert.ok(sizes.includes(3 * MiB + 1234) && sizes.includes(2 * MiB), `a frame per large file, exactly its size: ${sizes.join(', ')}`);
  // A frame ends with the chunk that reaches 256 KiB.
  assert.ok(sizes.filter((s) => s !== 3 * MiB + 1234 && s !== 2 * MiB).every((s) => s < 256 * 1024 + 64 * 1024), `the rest in bounded frames: ${sizes.join(', ')}`);
  await verifyRestorable({ archivePath: r.archivePath, format: 'tar.zst', pool, sha256: r.sha256, size: r.size, roots: r.roots, files: r.files });
  assert.deepEqual(await restored(dir, r, pool, 'world'), await readTree(w));
  assert.deepEqual(await fs.readdir(path.join(dir, 'tmp')), [], 'no FIFO or link left');
});

test('a large file that changes after the archiver opened it: that attempt is thrown away and the archive is built again', needs, async (t) => {
  const dir = await tempDir(t);
  const w = path.join(dir, 'world');
  await writeTree(w, { 'big.db': saveLike(2 * MiB), 'small.sav': 'small' });
  const big = path.join(w, 'big.db');
  const tail = randomBytes(5000);
  let bigOpens = 0;
  let grown = false;
  const { r, pool } = await archiveOf(t, dir, w, {
    beforeOpen: async (p) => {
      if (p === big) bigOpens++;
      // Large files go first: when the small one is opened, zstd has big.db (and its header) but is not past it.
      if (p.endsWith('small.sav') && !grown) {
        grown = true;
        await fs.appendFile(big, tail);
      }
    },
  });
  assert.equal(bigOpens, 2, 'built twice');
  assert.equal(r.files.find((f) => f.path === 'world/big.db')?.size, 2 * MiB + 5000);
  assert.deepEqual(await restored(dir, r, pool, 'world'), await readTree(w), 'the archive holds the file as it is now');
});

test('the path swapped for another file after the archiver opened it: zstd reads the file the header describes', needs, async (t) => {
  const dir = await tempDir(t);
  const w = path.join(dir, 'world');
  const original = saveLike(2 * MiB);
  await writeTree(w, { 'big.db': original, 'small.sav': 'small' });
  const big = path.join(w, 'big.db');
  let swapped = false;
  const { r, pool } = await archiveOf(t, dir, w, {
    beforeOpen: async (p) => {
      if (p.endsWith('small.sav') && !swapped) {
        swapped = true;
        // Same size, other bytes, new inode: a rename-on-save by the game.
        await fs.writeFile(`${big}.new`, randomBytes(original.length));
        await fs.rename(`${big}.new`, big);
      }
    },
  });
  await restored(dir, r, pool, 'world');
  const want = createHash('sha256').update(original).digest('hex');
  const got = createHash('sha256').update(await fs.readFile(path.join(dir, 'restored', 'big.db'))).digest('hex');
  assert.equal(got, want, 'the bytes of the file that was opened and stat-ed, not of whatever the path names later');
});

test('a link or a FIFO put where the plan saw a save file is neither followed nor waited on: reported as vanished', { ...needs, timeout: 30_000 }, async (t) => {
  const dir = await tempDir(t);
  const w = path.join(dir, 'world');
  const secret = path.join(dir, 'secret.txt');
  await fs.writeFile(secret, 'TOKEN-THAT-MUST-NOT-LEAK'.repeat(100_000)); // large: would go to zstd directly
  await writeTree(w, { 'big.db': saveLike(2 * MiB), 'pipe.sav': 'soon a FIFO', 'keep.sav': 'kept' });
  const big = path.join(w, 'big.db');
  const pipe = path.join(w, 'pipe.sav');
  const planted = new Set<string>();
  const { r, pool } = await archiveOf(t, dir, w, {
    vanishRecheckDelayMs: 1,
    beforeOpen: async (p) => {
      if (planted.has(p)) return;
      planted.add(p);
      if (p === big) {
        await fs.rm(big);
        await fs.symlink(secret, big);
      } else if (p === pipe) {
        await fs.rm(pipe);
        execFileSync('mkfifo', [pipe]);
      }
    },
  });
  assert.deepEqual(r.skipped.vanished.sort(), ['world/big.db', 'world/pipe.sav']);
  assert.deepEqual(r.files.map((f) => f.path), ['world/keep.sav']);
  const tar = execFileSync(ZSTD!, ['-dc', r.archivePath], { maxBuffer: 64 * MiB });
  assert.equal(tar.includes('TOKEN-THAT-MUST-NOT-LEAK'), false, 'the link target is not in the archive');
  assert.deepEqual(Object.keys(await restored(dir, r, pool, 'world')), ['keep.sav']);
});

test('direct files across zstd processes (more slots than names): the stream is whole and in order', needs, async (t) => {
  const dir = await tempDir(t);
  const out = path.join(dir, 'out.zst');
  const file = await fs.open(out, 'w+');
  t.after(() => file.close().catch(() => undefined));
  const launcher = await ZstdLauncher.start(ZSTD!);
  assert.ok(launcher);
  t.after(() => launcher.close());
  const parts = [saveLike(100_000), saveLike(700_000), saveLike(50_000), saveLike(900_000), saveLike(10)];
  const sources = await Promise.all([1, 3].map(async (i) => {
    await fs.writeFile(path.join(dir, `src${i}`), parts[i]!);
    return fs.open(path.join(dir, `src${i}`), 'r');
  }));
  t.after(() => Promise.all(sources.map((s) => s.close().catch(() => undefined))));
  const wr = await NativeZstdWriter.start({ launcher, level: 1, file, filePath: out, fifoDir: path.join(dir, 'fifo'), expectedBytes: 200_000, expectedDirect: 2, frameBytes: 64 * 1024, maxSlots: 3, ways: 2 });
  const reads: Promise<void>[] = [];
  for (const [i, part] of parts.entries()) {
    if (i === 1 || i === 3) reads.push((await wr.direct(fdLinker()!(sources[i === 1 ? 0 : 1]!.fd))).read);
    else for (let off = 0; off < part.length; off += 30_000) await wr.write(Buffer.from(part.subarray(off, off + 30_000)));
  }
  const { size, sha256 } = await wr.end();
  await Promise.all(reads);
  await file.close();
  const bytes = await fs.readFile(out);
  assert.equal(size, bytes.length);
  assert.equal(sha256, createHash('sha256').update(bytes).digest('hex'));
  assert.ok(execFileSync(ZSTD!, ['-dc', out], { maxBuffer: 64 * MiB }).equals(Buffer.concat(parts)));
});
