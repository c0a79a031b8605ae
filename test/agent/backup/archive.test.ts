import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { createArchive, partialPath } from '../../../agent/backup/archive.ts';
import { ZstdPool } from '../../../agent/backup/compress.ts';
import { ReconSyncError } from '../../../protocol/index.ts';
import { readTree, tempDir, writeTree } from './helpers.ts';

const sel = (savePaths: string[], extra: Partial<{ include: string[]; exclude: string[]; sqlite: string[] }> = {}) => ({ savePaths, include: [], exclude: [], sqlite: [], ...extra });

test('zstd and gzip archives round-trip through the system tools, byte for byte', async (t) => {
  const dir = await tempDir(t);
  const world = path.join(dir, 'worlds_local');
  const big = Buffer.alloc(9 * 1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) % 251;
  await writeTree(world, {
    'Dedicated.fwl': 'world meta',
    'Dedicated.db': big,
    'players/p1.sav': 'p1',
    [`deep/${'n'.repeat(120)}/x.sav`]: 'long path',
    'Dedicated.db.old': 'excluded by the game profile',
    'backup/auto-1.sav': 'excluded folder',
  });
  await fs.mkdir(path.join(world, 'empty'));
  const pool = new ZstdPool();
  t.after(() => pool.close());
  for (const format of ['tar.zst', 'tar.gz'] as const) {
    const out = path.join(dir, `out-${format}`);
    const r = await createArchive({ source: sel([world], { exclude: ['**/*.old', 'backup/**'] }), dir: out, id: 'b1', format, pool, tmpDir: path.join(dir, 'tmp'), chunkBytes: 1024 * 1024 });
    assert.equal(r.archivePath, path.join(out, `b1.${format}`));
    const bytes = await fs.readFile(r.archivePath);
    assert.equal(r.size, bytes.length);
    assert.equal(r.sha256, execFileSync('sha256sum', [r.archivePath], { encoding: 'utf8' }).split(' ')[0]);
    assert.deepEqual(Object.keys(r.roots), ['worlds_local']);
    assert.deepEqual(r.files.map((f) => f.path).sort(), ['worlds_local/Dedicated.db', 'worlds_local/Dedicated.fwl', `worlds_local/deep/${'n'.repeat(120)}/x.sav`, 'worlds_local/players/p1.sav']);
    const listing = format === 'tar.zst'
      ? execFileSync('bash', ['-c', `set -o pipefail; /usr/bin/zstd -dc "${r.archivePath}" | tar -tf -`], { encoding: 'utf8' })
      : execFileSync('tar', ['-tzf', r.archivePath], { encoding: 'utf8' });
    assert.ok(listing.includes('worlds_local/empty/'), listing);
    const x = path.join(dir, `x-${format}`);
    await fs.mkdir(x);
    execFileSync('bash', ['-c', format === 'tar.zst' ? `/usr/bin/zstd -dc "${r.archivePath}" | tar -xf - -C "${x}"` : `tar -xzf "${r.archivePath}" -C "${x}"`]);
    const expected = await readTree(world);
    delete expected['Dedicated.db.old'];
    delete expected['backup/'];
    delete expected['backup/auto-1.sav'];
    assert.deepEqual(await readTree(path.join(x, 'worlds_local')), expected);
    assert.deepEqual((await fs.readdir(out)).sort(), [`b1.${format}`], 'no .partial left behind');
  }
});

test('SQLite files are archived with their -wal, and the copy opens with every committed row', async (t) => {
  const dir = await tempDir(t);
  const save = path.join(dir, 'server', 'rust');
  await fs.mkdir(save, { recursive: true });
  const db = new Database(path.join(save, 'player.blueprints.db'));
  t.after(() => db.close());
  db.pragma('journal_mode = WAL');
  db.pragma('wal_autocheckpoint = 0'); // keep the rows in the -wal, as a busy game would
  db.exec('CREATE TABLE bp (id INTEGER PRIMARY KEY, item TEXT)');
  const ins = db.prepare('INSERT INTO bp (item) VALUES (?)');
  for (let i = 0; i < 500; i++) ins.run(`item-${i}`);
  const walSize = (await fs.stat(path.join(save, 'player.blueprints.db-wal'))).size;
  assert.ok(walSize > 0, 'rows are in the wal');

  const pool = new ZstdPool({ size: 1 });
  t.after(() => pool.close());
  const r = await createArchive({ source: sel([save]), dir: path.join(dir, 'out'), id: 'b', format: 'tar.zst', pool, tmpDir: path.join(dir, 'tmp') });
  const names = r.files.map((f) => f.path);
  assert.ok(names.includes('rust/player.blueprints.db-wal'), names.join(','));
  const x = path.join(dir, 'x');
  await fs.mkdir(x);
  execFileSync('bash', ['-c', `/usr/bin/zstd -dc "${r.archivePath}" | tar -xf - -C "${x}" --exclude='*-shm'`]);
  const copy = new Database(path.join(x, 'rust', 'player.blueprints.db'), { readonly: false });
  t.after(() => copy.close());
  assert.equal((copy.prepare('SELECT count(*) AS n FROM bp').get() as { n: number }).n, 500);
});

test('a file that vanished at open (rename-on-save) gets one more look at the end and is archived', async (t) => {
  const dir = await tempDir(t);
  const save = path.join(dir, 'SavedArks');
  await writeTree(save, { 'TheIsland.ark': 'world v2', 'a.arkprofile': 'p' });
  const target = path.join(save, 'TheIsland.ark');
  const tmp = path.join(save, 'TheIsland.tmp');
  const attempts: number[] = [];
  const pool = new ZstdPool({ size: 1 });
  t.after(() => pool.close());
  const r = await createArchive({
    source: sel([save], { exclude: ['**/*.tmp'] }), dir: path.join(dir, 'out'), id: 'b', format: 'tar.zst', pool, tmpDir: path.join(dir, 'tmp'),
    vanishRecheckDelayMs: 1,
    beforeOpen: async (p, attempt) => {
      if (p !== target) return;
      attempts.push(attempt);
      // ARK: the world is renamed away while the new one is written, then renamed back (by the second look).
      if (attempt === 0) await fs.rename(target, tmp);
      if (attempt === 1) await fs.rename(tmp, target);
    },
  });
  assert.deepEqual(attempts, [0, 1], 'no per-file retry loop: the first try, then the one shared second look');
  assert.ok(r.files.some((f) => f.path === 'SavedArks/TheIsland.ark' && f.size === 8));
  assert.deepEqual(r.warnings, []);
});

test('a file that stays gone is left out with a warning', async (t) => {
  const dir = await tempDir(t);
  const save = path.join(dir, 's');
  await writeTree(save, { 'keep.sav': 'k', 'gone.sav': 'g' });
  const pool = new ZstdPool({ size: 1 });
  t.after(() => pool.close());
  const r = await createArchive({
    source: sel([save]), dir: path.join(dir, 'out'), id: 'b', format: 'tar.zst', pool, tmpDir: path.join(dir, 'tmp'), vanishRecheckDelayMs: 1,
    beforeOpen: async (p, attempt) => {
      if (p.endsWith('gone.sav') && attempt === 0) await fs.rm(p);
    },
  });
  assert.deepEqual(r.files.map((f) => f.path), ['s/keep.sav']);
  assert.deepEqual(r.warnings, ['1 file not archived (vanished while the backup ran: renamed or deleted by the game): s/gone.sav']);
  assert.deepEqual(r.skipped.vanished, ['s/gone.sav']);
});

test('a large file that changes while it is read makes the attempt start over', async (t) => {
  const dir = await tempDir(t);
  const save = path.join(dir, 's');
  await writeTree(save, { 'big.sav': Buffer.alloc(3 * 1024 * 1024, 1) });
  const pool = new ZstdPool({ size: 1 });
  t.after(() => pool.close());
  let touched = 0;
  const r = await createArchive({
    source: sel([save]), dir: path.join(dir, 'out'), id: 'b', format: 'tar.zst', pool, tmpDir: path.join(dir, 'tmp'),
    smallFileBytes: 1024, chunkBytes: 256 * 1024,
    onProgress: () => {
      // Synchronous on purpose: the change must land while the archiver is mid-file.
      if (touched++ === 0) appendFileSync(path.join(save, 'big.sav'), 'grown');
    },
  });
  assert.ok(touched > 1);
  const f = r.files.find((x) => x.path === 's/big.sav')!;
  assert.equal(f.size, 3 * 1024 * 1024 + 5, 'the second attempt archived the file as it is now');
});

test('disk-full: refused before writing, with the sizes in the message', async (t) => {
  const dir = await tempDir(t);
  const save = path.join(dir, 's');
  await writeTree(save, { 'w.sav': Buffer.alloc(200_000, 3) });
  const out = path.join(dir, 'out');
  const err = await createArchive({
    source: sel([save]), dir: out, id: 'b', format: 'tar.gz', pool: null, tmpDir: path.join(dir, 'tmp'),
    reserveBytes: 0,
    statfs: async () => ({ bavail: 10, bsize: 4096 }),
  }).then(() => null, (e: unknown) => e);
  assert.ok(err instanceof ReconSyncError);
  assert.equal(err.code, 'DISK_FULL');
  assert.match(err.message, /needs about 0\.2 MiB .* only 0\.0 MiB are free/);
  assert.deepEqual(await fs.readdir(out), []);
  await assert.rejects(fs.stat(partialPath(out, 'b', 'tar.gz')));
});

test('no save files at all is a clear failure', async (t) => {
  const dir = await tempDir(t);
  await assert.rejects(
    createArchive({ source: sel([path.join(dir, 'nope')]), dir: path.join(dir, 'out'), id: 'b', format: 'tar.gz', pool: null, tmpDir: path.join(dir, 'tmp') }),
    (e: unknown) => e instanceof ReconSyncError && e.code === 'BACKUP_FAILED' && /no save files found/.test(e.message),
  );
});

test('symlinks in a save folder are named in one summary warning, not one warning each', async (t) => {
  const dir = await tempDir(t);
  const save = path.join(dir, 's');
  await writeTree(save, { 'world.sav': 'w' });
  for (let i = 0; i < 8; i++) await fs.symlink('world.sav', path.join(save, `link-${i}.sav`));
  const r = await createArchive({ source: sel([save]), dir: path.join(dir, 'out'), id: 'b', format: 'tar.gz', pool: null, tmpDir: path.join(dir, 'tmp') });
  assert.deepEqual(r.files.map((f) => f.path), ['s/world.sav']);
  assert.deepEqual(r.warnings, ['8 files not archived (symbolic link: links inside save folders are not followed; a restore keeps them in place): s/link-0.sav, s/link-1.sav, s/link-2.sav, s/link-3.sav, s/link-4.sav, and 3 more']);
});

test('a SQLite journal swapped for a link to another file after the plan: the group is copied without following it', async (t) => {
  const dir = await tempDir(t);
  const world = path.join(dir, 'world');
  const secret = path.join(dir, 'secret.txt');
  await fs.writeFile(secret, 'TOKEN-THAT-MUST-NOT-LEAK');
  await writeTree(world, { 'world.db': 'database pages', 'world.db-wal': 'journal' });
  const wal = path.join(world, 'world.db-wal');
  const pool = new ZstdPool({ size: 1, native: null });
  t.after(() => pool.close());
  let swapped = false;
  for (const smallFileBytes of [1024, 4]) { // read whole, and copied to a snapshot file
    swapped = false;
    await fs.writeFile(wal, 'journal');
    const r = await createArchive({
      source: sel([world]), dir: path.join(dir, `out-${smallFileBytes}`), id: 'b1', format: 'tar.zst', pool, tmpDir: path.join(dir, 'tmp'), smallFileBytes,
      beforeOpen: async (p) => {
        if (swapped || !p.endsWith('world.db')) return;
        swapped = true;
        await fs.rm(wal);
        await fs.symlink(secret, wal);
      },
    });
    const staging = path.join(dir, `restored-${smallFileBytes}`);
    execFileSync('bash', ['-c', `mkdir -p "${staging}" && zstd -dc "${r.archivePath}" | tar -xf - -C "${staging}"`]);
    const restored = Object.fromEntries(Object.entries(await readTree(staging)).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
    assert.ok(!Object.values(restored).some((v) => v.includes('TOKEN-THAT-MUST-NOT-LEAK')), `the link's target is not in the archive (${smallFileBytes})`);
    assert.equal(restored['world/world.db'], 'database pages');
    assert.equal(restored['world/world.db-wal'], undefined, 'the journal that became a link is left out');
    await fs.rm(wal);
  }
});
