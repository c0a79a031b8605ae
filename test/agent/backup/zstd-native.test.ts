/**
 * Backups through the system zstd binary (agent/backup/zstd-native.ts: one
 * process per archive, started by a launcher shell (zstd-launcher.ts), frames cut by two FIFOs), read back by our own extractor
 * (WASM), and the fall-backs to WASM: zstd not on PATH, too old. The real
 * /usr/bin/zstd runs; the only stand-ins are a zstd that fails and one that is
 * too old (shell scripts), and a child process killed mid-archive.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { createArchive } from '../../../agent/backup/archive.ts';
import { ZstdPool } from '../../../agent/backup/compress.ts';
import { extractArchive } from '../../../agent/backup/extract.ts';
import { findZstd, NativeZstdWriter } from '../../../agent/backup/zstd-native.ts';
import { ZstdLauncher } from '../../../agent/backup/zstd-launcher.ts';
import { waitFor } from '../../support/wait.ts';
import { framesOf, readTree, saveLike, tempDir, writeTree } from './helpers.ts';

const sel = (savePaths: string[]) => ({ savePaths, include: [], exclude: [], sqlite: [] });
const MiB = 1024 * 1024;
const ZSTD = findZstd();


async function world(dir: string): Promise<string> {
  const w = path.join(dir, 'worlds_local');
  await writeTree(w, { 'Dedicated.db': saveLike(5 * MiB + 4321), 'Dedicated.fwl': 'meta', 'players/p1.sav': saveLike(70_000) });
  return w;
}

/** A stand-in zstd: answers -V with `version`, otherwise runs `body` (sh). */
async function fakeZstd(dir: string, version: string, body: string): Promise<string> {
  const bin = path.join(dir, 'fake-bin');
  await fs.mkdir(bin, { recursive: true });
  const file = path.join(bin, 'zstd');
  await fs.writeFile(file, `#!/bin/sh\nif [ "$1" = -V ]; then echo "*** Zstandard CLI (64-bit) ${version}, by Yann Collet ***"; exit 0; fi\n${body}\n`, { mode: 0o755 });
  return file;
}

test('zstd on PATH is the default: one process, bounded frames, hashed as written, restored by our own (WASM) extractor', { skip: ZSTD ? false : 'needs zstd on PATH (CI installs it)' }, async (t) => {
  const dir = await tempDir(t);
  const w = await world(dir);
  const pool = new ZstdPool({ size: 1, nativeFrameBytes: MiB });
  t.after(() => pool.close());
  assert.equal(pool.native, ZSTD, 'native unless asked otherwise');
  assert.equal(await pool.nativeProgram(), ZSTD, 'the installed zstd reads FIFOs');

  const out = path.join(dir, 'out');
  const tmp = path.join(dir, 'tmp');
  const r = await createArchive({ source: sel([w]), dir: out, id: 'n1', format: 'tar.zst', pool, tmpDir: tmp, chunkBytes: 256 * 1024 });
  assert.equal(r.size, (await fs.stat(r.archivePath)).size);
  assert.equal(r.sha256, execFileSync('sha256sum', [r.archivePath], { encoding: 'utf8' }).split(' ')[0], 'hashed as written');
  const frames = (await framesOf(r.archivePath)).filter((b) => b > 1);
  // 256 KiB tar chunks, 1 MiB native frames: WASM would have written one frame per chunk (~22).
  assert.ok(frames.length >= 5 && frames.length <= 7, `one frame per MiB of tar, got ${frames.length}`);
  assert.deepEqual((await fs.readdir(out)).sort(), ['n1.tar.zst'], 'no .partial left');
  assert.deepEqual(await fs.readdir(tmp), [], 'the FIFOs are gone');

  const staging = path.join(dir, 'restored');
  await fs.mkdir(staging);
  await extractArchive({ archivePath: r.archivePath, format: 'tar.zst', pool, roots: r.roots, staging: { worlds_local: staging }, maxBytes: 64 * MiB });
  assert.deepEqual(await readTree(staging), await readTree(w));
});

test('more frames than FIFO names on one command line: the next zstd process appends, and the stream is whole', { skip: ZSTD ? false : 'needs zstd' }, async (t) => {
  const dir = await tempDir(t);
  const input = saveLike(3 * MiB + 777);
  const file = await fs.open(path.join(dir, 'out.zst'), 'w+');
  t.after(() => file.close().catch(() => undefined));
  const launcher = await ZstdLauncher.start(ZSTD!);
  assert.ok(launcher);
  t.after(() => launcher.close());
  // Expects 1 MiB but gets 3: with two names per process, six processes in turn.
  const wr = await NativeZstdWriter.start({ launcher, level: 1, file, filePath: path.join(dir, 'out.zst'), fifoDir: path.join(dir, 'fifo'), expectedBytes: MiB, frameBytes: 256 * 1024, maxSlots: 2 });
  for (let off = 0; off < input.length; off += 100_000) await wr.write(Buffer.from(input.subarray(off, off + 100_000)));
  const { size, sha256 } = await wr.end();
  await file.close();
  const bytes = await fs.readFile(path.join(dir, 'out.zst'));
  assert.equal(size, bytes.length);
  assert.equal(sha256, createHash('sha256').update(bytes).digest('hex'));
  // A frame ends at the first chunk that reaches 256 KiB: 3 chunks of 100,000 bytes each.
  assert.equal((await framesOf(path.join(dir, 'out.zst'))).filter((b) => b > 1).length, Math.ceil(input.length / 300_000));
  assert.ok(execFileSync(ZSTD!, ['-dc', path.join(dir, 'out.zst')], { maxBuffer: 64 * MiB }).equals(input));
  await assert.rejects(fs.stat(path.join(dir, 'fifo')), { code: 'ENOENT' });
});

test('many unused frame names: each gets an empty frame, rung back to back without losing a doorbell', { skip: ZSTD ? false : 'needs zstd', timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t);
  const input = saveLike(300_000);
  const file = await fs.open(path.join(dir, 'out.zst'), 'w+');
  t.after(() => file.close().catch(() => undefined));
  const launcher = await ZstdLauncher.start(ZSTD!);
  assert.ok(launcher);
  t.after(() => launcher.close());
  // Expects 64 MiB in 256 KiB frames (~320 names) and gets 300 KB: ~318 empty frames at the end.
  const wr = await NativeZstdWriter.start({ launcher, level: 1, file, filePath: path.join(dir, 'out.zst'), fifoDir: path.join(dir, 'fifo'), expectedBytes: 64 * MiB, frameBytes: 256 * 1024 });
  await wr.write(Buffer.from(input));
  const { sha256 } = await wr.end();
  await file.close();
  const bytes = await fs.readFile(path.join(dir, 'out.zst'));
  assert.equal(sha256, createHash('sha256').update(bytes).digest('hex'));
  assert.ok((await framesOf(path.join(dir, 'out.zst'))).length > 300, 'one (mostly empty) frame per name');
  assert.ok(execFileSync(ZSTD!, ['-dc', path.join(dir, 'out.zst')], { maxBuffer: 64 * MiB }).equals(input));
});

test('zstd not on PATH, or too old for FIFOs: the WASM pool compresses (one frame per chunk), and the archive is the same tar', async (t) => {
  const dir = await tempDir(t);
  const w = await world(dir);
  const bin = path.join(dir, 'bin-without-zstd');
  await fs.mkdir(bin);
  assert.equal(findZstd({ PATH: bin }), null);
  assert.equal(findZstd({ PATH: '' }), null);
  assert.equal(findZstd({ PATH: '/usr/bin:/bin' }, 'win32'), null, 'Windows: WASM (no FIFOs, no sh)');
  const old = await fakeZstd(dir, 'v1.3.8', 'exit 1');
  for (const [name, pool] of [['no zstd', new ZstdPool({ size: 1, native: 'auto', env: { PATH: bin } })], ['zstd 1.3.8', new ZstdPool({ size: 1, native: old })]] as const) {
    t.after(() => pool.close());
    assert.equal(await pool.nativeProgram(), null, name);
    const r = await createArchive({ source: sel([w]), dir: path.join(dir, `out-${pool.native ? 'old' : 'none'}`), id: 'w1', format: 'tar.zst', pool, tmpDir: path.join(dir, 'tmp'), chunkBytes: MiB });
    assert.equal((await framesOf(r.archivePath)).length, 6, `${name}: one WASM frame per 1 MiB chunk`);
    if (!ZSTD) continue;
    const x = path.join(dir, `x-${pool.native ? 'old' : 'none'}`);
    await fs.mkdir(x);
    execFileSync('sh', ['-c', `"${ZSTD}" -dc "${r.archivePath}" | tar -xf - -C "${x}"`]);
    assert.deepEqual(await readTree(path.join(x, 'worlds_local')), await readTree(w));
  }
  if (!ZSTD) return;
  // The same PATH with zstd in it: found there.
  await fs.symlink(ZSTD, path.join(bin, 'zstd'));
  assert.equal(findZstd({ PATH: `/nonexistent:${bin}` }), path.join(bin, 'zstd'));
});

test('a zstd that fails mid-archive: the backup fails with its exit code and message, leaves no .partial and no FIFO, and does not hang', async (t) => {
  const dir = await tempDir(t);
  const w = await world(dir);
  // Waits for the first frame (its doorbell), then gives up as zstd does on a write error.
  const failing = await fakeZstd(dir, 'v1.5.4', 'head -c 1000 d0 >/dev/null; echo "zstd: error 70 : Write error : No space left on device" >&2; exit 70');
  const pool = new ZstdPool({ size: 1, native: failing, nativeFrameBytes: MiB });
  t.after(() => pool.close());
  const out = path.join(dir, 'out');
  const tmp = path.join(dir, 'tmp');
  await assert.rejects(
    createArchive({ source: sel([w]), dir: out, id: 'f1', format: 'tar.zst', pool, tmpDir: tmp, chunkBytes: 256 * 1024 }),
    (err: Error & { code?: string }) => {
      // zstd's ENOSPC is the agent's DISK_FULL, as a write of our own would be.
      assert.equal(err.code, 'DISK_FULL', err.message);
      assert.match(String((err.cause as Error | undefined)?.message), /failed with exit code 70: zstd: error 70 : Write error : No space left on device/);
      return true;
    },
  );
  assert.deepEqual(await fs.readdir(out).catch(() => []), []);
  assert.deepEqual(await fs.readdir(tmp).catch(() => []), []);
});

test('the agent killed mid-archive: its zstd does not outlive it (the launcher kills it when our pipe ends)', { skip: ZSTD ? false : 'needs zstd' }, async (t) => {
  const dir = await tempDir(t);
  const w = await world(dir);
  const tmp = path.join(dir, 'tmp');
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'fixtures', 'native-archive-child.ts'), w, path.join(dir, 'out'), tmp], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  let said = '';
  child.stdout.on('data', (d: Buffer) => (said += d.toString('utf8')));
  await waitFor(() => said.includes('BLOCKED'), { timeoutMs: 30_000, what: 'the child to be mid-archive', wakeOn: { emitter: child.stdout, events: ['data'] } });
  /** Processes whose working folder is under tmp: the wrapper and zstd run in the FIFO folder. */
  const inTmp = async (): Promise<number[]> => {
    const found: number[] = [];
    for (const pid of await fs.readdir('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      const cwd = await fs.readlink(`/proc/${pid}/cwd`).catch(() => '');
      if (cwd.startsWith(tmp)) found.push(Number(pid));
    }
    return found;
  };
  assert.ok((await inTmp()).length > 0, 'zstd runs while the archive is being written');
  child.kill('SIGKILL');
  await once(child, 'exit');
  await waitFor(async () => (await inTmp()).length === 0, { timeoutMs: 10_000, what: 'zstd to end with the agent', detail: () => 'still running' });
});
