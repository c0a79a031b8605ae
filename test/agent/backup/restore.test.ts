import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { createArchive } from '../../../agent/backup/archive.ts';
import { ZstdPool } from '../../../agent/backup/compress.ts';
import { ManifestSchema, type Manifest } from '../../../agent/backup/manifest.ts';
import { restoreWorld, RestoreRolledBackError, type RestoreWorldOptions } from '../../../agent/backup/restore.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { ReconSyncError, systemClock } from '../../../protocol/index.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { readTree, tempDir, TestServerControl, writeTree } from './helpers.ts';

async function setup(t: Parameters<typeof tempDir>[0]) {
  const dir = await tempDir(t);
  const srv = path.join(dir, 'srv');
  const world = path.join(srv, 'world');
  const ini = path.join(srv, 'server.ini');
  await writeTree(world, { 'level.dat': 'level v1', 'players/alice.dat': 'alice v1', 'players/bob.dat': 'bob v1', 'region/r.0.0.mca': Buffer.alloc(300_000, 7) });
  await fs.writeFile(ini, 'setting=1');
  const pool = new ZstdPool({ size: 1 });
  t.after(() => pool.close());
  const a = await createArchive({ source: { savePaths: [world, ini], include: [], exclude: [], sqlite: [] }, dir: path.join(dir, 'backups'), id: 'b1', format: 'tar.zst', pool, tmpDir: path.join(dir, 'tmp') });
  const manifest: Manifest = ManifestSchema.parse({
    manifestVersion: 1, id: 'b1', serverId: 'srv1', game: 'minecraft', createdAt: '2025-01-01T00:00:00.000Z', trigger: 'manual',
    roots: a.roots, files: a.files, archive: { sha256: a.sha256, size: a.size, format: 'tar.zst', unpackedSize: a.unpackedSize }, toolVersion: 'x', locked: false,
  });
  const backedUp = await readTree(srv);
  // Scramble: the world after a griefing.
  await writeTree(world, { 'level.dat': 'level GRIEFED', 'players/alice.dat': 'alice GRIEFED', 'players/carol.dat': 'carol new' });
  await fs.rm(path.join(world, 'region'), { recursive: true });
  await fs.writeFile(ini, 'setting=2');
  const scrambled = await readTree(srv);
  const control = new TestServerControl('running');
  const calls: string[] = [];
  const opts = (extra: Partial<RestoreWorldOptions> = {}): RestoreWorldOptions => ({
    dataDir: path.join(dir, 'data'), jobId: 'job1', serverId: 'srv1', manifest, archivePath: a.archivePath, pool, control, clock: systemClock, logger: silentLogger,
    preRestoreBackup: async () => {
      calls.push(`pre-restore backup while ${control.state}`);
      return 'pre1';
    },
    ...extra,
  });
  return { dir, srv, world, ini, backedUp, scrambled, control, calls, opts, manifest, archivePath: a.archivePath };
}

test('restore: verify, stop, pre-restore backup, swap, start; the world comes back byte for byte', async (t) => {
  const s = await setup(t);
  const phases: string[] = [];
  const r = await restoreWorld(s.opts({ onPhase: (p) => void (phases.at(-1) !== p && phases.push(p)) }));
  assert.equal(r.preRestoreBackupId, 'pre1');
  assert.deepEqual(await readTree(s.srv), s.backedUp, 'every save folder and file as it was backed up, no leftovers beside them');
  assert.deepEqual(s.calls, ['pre-restore backup while stopped']);
  assert.deepEqual(s.control.log.filter((l) => !['stopping', 'starting'].includes(l)), ['hold(restore of b1)', 'stop()', 'stopped', 'start()', 'running']);
  assert.equal(s.control.holds, 0, 'hold released');
  assert.deepEqual(phases, ['verifying', 'extracting', 'stopping', 'swapping', 'starting', 'done']);
  await assert.rejects(fs.stat(path.join(s.dir, 'data', 'restore', 'srv1.journal.json')));
});

test('restore of some paths only: the folder named is replaced, everything else stays as it is now', async (t) => {
  const s = await setup(t);
  await restoreWorld(s.opts({ paths: ['world/players'] }));
  const now = await readTree(s.srv);
  assert.equal(Buffer.from(now['world/players/alice.dat']!, 'base64').toString(), 'alice v1');
  assert.equal(Buffer.from(now['world/players/bob.dat']!, 'base64').toString(), 'bob v1');
  assert.equal(now['world/players/carol.dat'], undefined, 'the restored folder is as it was in the backup');
  assert.equal(Buffer.from(now['world/level.dat']!, 'base64').toString(), 'level GRIEFED', 'untouched');
  assert.equal(Buffer.from(now['server.ini']!, 'base64').toString(), 'setting=2', 'a root not asked for is untouched');
  assert.deepEqual(Object.keys(now).filter((k) => k.includes('reconsync')), []);
});

test('restore of a single file', async (t) => {
  const s = await setup(t);
  await restoreWorld(s.opts({ paths: ['world/level.dat'] }));
  const now = await readTree(s.srv);
  assert.equal(Buffer.from(now['world/level.dat']!, 'base64').toString(), 'level v1');
  assert.equal(Buffer.from(now['world/players/alice.dat']!, 'base64').toString(), 'alice GRIEFED');
});

test('restore rolls back when the server does not start', async (t) => {
  const s = await setup(t);
  s.control.nextStarts = ['fail'];
  const err = await restoreWorld(s.opts()).then(() => null, (e: unknown) => e);
  assert.ok(err instanceof RestoreRolledBackError, String(err));
  assert.equal(err.code, 'RESTORE_FAILED');
  assert.match(err.message, /the previous world was put back and the server is running again/);
  assert.equal(err.preRestoreBackupId, 'pre1');
  assert.deepEqual(await readTree(s.srv), s.scrambled, 'the world before the restore is back, nothing left beside it');
  assert.equal(s.control.state, 'running');
  assert.equal(s.control.holds, 0);
});

test('restore rolls back when the server never answers within the deadline', async (t) => {
  const s = await setup(t);
  const clock = new FakeClock();
  s.control.nextStarts = ['hang'];
  const restoring = restoreWorld(s.opts({ clock, startTimeoutMs: 60_000 })).then(() => null, (e: unknown) => e);
  const signal = AbortSignal.timeout(10_000);
  await clock.sleeping(signal, (due) => due === clock.now() + 60_000);
  await clock.advance(60_000);
  const err = await restoring;
  assert.ok(err instanceof RestoreRolledBackError, String(err));
  assert.match(err.message, /did not answer within 60 s/);
  assert.deepEqual(await readTree(s.srv), s.scrambled);
  assert.equal(s.control.state, 'running', 'started again on the old world');
});

test('a corrupt archive is refused before the server is touched', async (t) => {
  const s = await setup(t);
  const bytes = await fs.readFile(s.archivePath);
  bytes[bytes.length - 20]! ^= 0xff;
  await fs.writeFile(s.archivePath, bytes);
  const err = await restoreWorld(s.opts()).then(() => null, (e: unknown) => e);
  assert.ok(err instanceof ReconSyncError);
  assert.match(err.message, /is corrupt: .*nothing was changed/);
  assert.deepEqual(await readTree(s.srv), s.scrambled);
  assert.deepEqual(s.control.log, []);
});

test('a watch-only server that is running is not restored under the game', async (t) => {
  const s = await setup(t);
  const watched = new TestServerControl('running', false);
  const err = await restoreWorld(s.opts({ control: watched })).then(() => null, (e: unknown) => e);
  assert.ok(err instanceof ReconSyncError);
  assert.equal(err.code, 'NOT_MANAGED');
  assert.deepEqual(await readTree(s.srv), s.scrambled);
});
