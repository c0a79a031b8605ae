import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import zlib from 'node:zlib';
import { sha256File } from '../../../agent/backup/fs-util.ts';
import { ManifestSchema, type Manifest } from '../../../agent/backup/manifest.ts';
import { restoreWorld } from '../../../agent/backup/restore.ts';
import { END_OF_ARCHIVE, paddingFor } from '../../../agent/backup/tar.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { ReconSyncError, systemClock } from '../../../protocol/index.ts';
import { readTree, tempDir, TestServerControl, writeTree } from './helpers.ts';

/** A raw ustar entry, so tests can write what our own archiver never would. */
function raw(opts: { name: string; flag?: string; linkname?: string; data?: string | Buffer; size?: number }): Buffer {
  const data = typeof opts.data === 'string' ? Buffer.from(opts.data) : opts.data ?? Buffer.alloc(0);
  const h = Buffer.alloc(512);
  h.write(opts.name, 0, 100);
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${(opts.size ?? data.length).toString(8).padStart(11, '0')}\0`, 124);
  h.write('14750000000\0', 136);
  h.write('        ', 148);
  h.write(opts.flag ?? '0', 156, 1);
  h.write(opts.linkname ?? '', 157, 100);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return Buffer.concat([h, data, Buffer.alloc(paddingFor(data.length))]);
}

async function craft(dir: string, entries: Buffer[], roots: Manifest['roots'], unpackedSize = 1_000_000): Promise<{ archivePath: string; manifest: Manifest }> {
  const archivePath = path.join(dir, `crafted-${Math.random().toString(36).slice(2)}.tar.gz`);
  await fs.writeFile(archivePath, zlib.gzipSync(Buffer.concat([...entries, END_OF_ARCHIVE])));
  const { sha256, size } = await sha256File(archivePath);
  const manifest = ManifestSchema.parse({
    manifestVersion: 1, id: 'evil', serverId: 'srv1', game: 'ark', createdAt: '2025-01-01T00:00:00.000Z', trigger: 'manual', roots, files: [],
    archive: { sha256, size, format: 'tar.gz', unpackedSize }, toolVersion: 'x', locked: false,
  });
  return { archivePath, manifest };
}

async function setup(t: Parameters<typeof tempDir>[0]) {
  const dir = await tempDir(t);
  const parent = path.join(dir, 'srv');
  const world = path.join(parent, 'world');
  await writeTree(world, { 'level.dat': 'current world', 'region/r.0.0.mca': 'region' });
  const before = await readTree(parent);
  const control = new TestServerControl('running');
  const run = (a: { archivePath: string; manifest: Manifest }) => restoreWorld({
    dataDir: path.join(dir, 'data'), jobId: 'j1', serverId: 'srv1', manifest: a.manifest, archivePath: a.archivePath, pool: null, control,
    clock: systemClock, logger: silentLogger, preRestoreBackup: async () => null,
  });
  return { dir, parent, world, before, control, run, roots: { world: { path: world, kind: 'dir' as const } } };
}

const hostile: Array<{ name: string; entries: (dir: string) => Buffer[]; why: RegExp; outside?: string }> = [
  { name: '".." in the path', entries: () => [raw({ name: 'world/ok.txt', data: 'fine' }), raw({ name: 'world/../../evil.txt', data: 'pwned' })], why: /contains "\.\."/, outside: 'evil.txt' },
  { name: 'an absolute path', entries: (dir) => [raw({ name: `${dir}/abs-evil.txt`, data: 'pwned' })], why: /is absolute/, outside: 'abs-evil.txt' },
  { name: 'a root the manifest does not list', entries: () => [raw({ name: 'elsewhere/x.txt', data: 'x' })], why: /not a root listed/ },
  { name: 'a symlink pointing up and out', entries: () => [raw({ name: 'world/link', flag: '2', linkname: '../../..' }), raw({ name: 'world/link/evil.txt', data: 'x' })], why: /link target contains "\.\."/ },
  { name: 'an absolute symlink', entries: (dir) => [raw({ name: 'world/link', flag: '2', linkname: dir })], why: /link target is absolute/ },
  { name: 'a hard link to a file outside', entries: () => [raw({ name: 'world/passwd', flag: '1', linkname: '/etc/passwd' })], why: /link target is absolute/ },
  { name: 'a hard link to something not in the archive', entries: () => [raw({ name: 'world/h', flag: '1', linkname: 'world/not-there' })], why: /hard link to a file outside/ },
  { name: 'a character device', entries: () => [raw({ name: 'world/null', flag: '3' })], why: /device files are never restored/ },
  { name: 'a FIFO', entries: () => [raw({ name: 'world/pipe', flag: '6' })], why: /FIFOs are never restored/ },
  { name: 'more data than the manifest announced', entries: () => [raw({ name: 'world/bomb', data: Buffer.alloc(3 * 1024 * 1024) })], why: /unpacks to more than/ },
];

for (const h of hostile) {
  test(`hostile archive refused: ${h.name}; nothing written outside staging, server never stopped`, async (t) => {
    const s = await setup(t);
    const a = await craft(s.dir, h.entries(s.dir), s.roots, 1024);
    const err = await s.run(a).then(() => null, (e: unknown) => e);
    assert.ok(err instanceof ReconSyncError, String(err));
    assert.equal(err.code, 'RESTORE_FAILED');
    assert.match(err.message, h.why);
    assert.deepEqual(await readTree(s.parent), s.before, 'the live world and its folder are untouched, no staging left');
    if (h.outside) await assert.rejects(fs.stat(path.join(s.dir, h.outside)), 'nothing was written outside');
    assert.ok(!s.control.log.includes('stop()'), 'the server was not stopped for a hostile archive');
    assert.equal(s.control.holds, 0);
    await assert.rejects(fs.stat(path.join(s.dir, 'data', 'restore', 'srv1.journal.json')), 'no journal left');
  });
}

test('links that stay inside the tree are restored (hard links as copies)', async (t) => {
  const s = await setup(t);
  const a = await craft(s.dir, [
    raw({ name: 'world/', flag: '5' }),
    raw({ name: 'world/slots/slot1.sav', data: 'slot one' }),
    raw({ name: 'world/latest', flag: '2', linkname: 'slots/slot1.sav' }),
    raw({ name: 'world/copy.sav', flag: '1', linkname: 'world/slots/slot1.sav' }),
  ], s.roots);
  await s.run(a);
  assert.equal(await fs.readlink(path.join(s.world, 'latest')), 'slots/slot1.sav');
  assert.equal(await fs.readFile(path.join(s.world, 'latest'), 'utf8'), 'slot one');
  const [orig, copy] = await Promise.all([fs.stat(path.join(s.world, 'slots', 'slot1.sav')), fs.stat(path.join(s.world, 'copy.sav'))]);
  assert.notEqual(orig.ino, copy.ino, 'hard link restored as an independent copy');
  await assert.rejects(fs.stat(path.join(s.world, 'level.dat')), 'the old world was replaced, not merged');
});
