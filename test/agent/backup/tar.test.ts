import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { END_OF_ARCHIVE, encodeHeader, paddingFor, readTar, TarFormatError } from '../../../agent/backup/tar.ts';
import { tempDir } from './helpers.ts';

async function* once(buf: Buffer): AsyncGenerator<Buffer> {
  // Feed in small uneven pieces to exercise the reader's buffering.
  for (let i = 0; i < buf.length; i += 333) yield buf.subarray(i, i + 333);
}

function entry(p: string, data: Buffer, mtime = Date.UTC(2025, 0, 2)): Buffer {
  return Buffer.concat([encodeHeader({ path: p, type: 'file', size: data.length, mode: 0o644, mtime }), data, Buffer.alloc(paddingFor(data.length))]);
}

test('encoded entries read back, including long and non-ASCII paths (pax)', async () => {
  const long = `world/${'deep/'.repeat(40)}region.dat`;
  const tar = Buffer.concat([
    encodeHeader({ path: 'world', type: 'directory', size: 0, mode: 0o755, mtime: 0 }),
    entry('world/a.txt', Buffer.from('hello')),
    entry(long, Buffer.alloc(1000, 1)),
    entry('world/spieler-ö.sav', Buffer.from('ö')),
    END_OF_ARCHIVE,
  ]);
  const seen: Array<{ path: string; type: string; data: string }> = [];
  for await (const e of readTar(once(tar))) {
    const chunks: Buffer[] = [];
    for await (const c of e.body()) chunks.push(c);
    seen.push({ path: e.header.path, type: e.header.type, data: Buffer.concat(chunks).toString('latin1') });
  }
  assert.deepEqual(seen.map((s) => [s.path, s.type]), [['world/', 'directory'], ['world/a.txt', 'file'], [long, 'file'], ['world/spieler-ö.sav', 'file']]);
  assert.equal(seen[1]!.data, 'hello');
  assert.equal(seen[2]!.data.length, 1000);
});

test('GNU tar lists what we write, and we read what GNU tar writes', async (t) => {
  const dir = await tempDir(t);
  const long = `w/${'x'.repeat(150)}/${'y'.repeat(120)}.dat`;
  await fs.writeFile(path.join(dir, 'ours.tar'), Buffer.concat([entry(long, Buffer.from('data')), entry('w/b', Buffer.alloc(0)), END_OF_ARCHIVE]));
  const listed = execFileSync('tar', ['-tf', path.join(dir, 'ours.tar')], { encoding: 'utf8' }).trim().split('\n');
  assert.deepEqual(listed, [long, 'w/b']);

  await fs.mkdir(path.join(dir, 'src', 'sub'), { recursive: true });
  await fs.writeFile(path.join(dir, 'src', 'sub', `${'z'.repeat(130)}.txt`), 'gnu');
  const gnu = execFileSync('tar', ['-cf', '-', '-C', path.join(dir, 'src'), '.']);
  const paths: string[] = [];
  for await (const e of readTar(once(gnu))) paths.push(e.header.path);
  assert.ok(paths.includes(`./sub/${'z'.repeat(130)}.txt`), paths.join(','));
});

test('a corrupted header is refused', async () => {
  const tar = Buffer.concat([entry('a', Buffer.from('x')), END_OF_ARCHIVE]);
  tar[10] = 0x41;
  await assert.rejects(async () => {
    for await (const _e of readTar(once(tar))) { /* drain */ }
  }, TarFormatError);
});

test('a truncated archive is refused', async () => {
  const tar = entry('a', Buffer.alloc(2000, 2)).subarray(0, 1200);
  await assert.rejects(async () => {
    for await (const e of readTar(once(tar))) for await (const _c of e.body()) { /* drain */ }
  }, /unexpected end/);
});
