import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { BackupEngine } from '../../../agent/backup/engine.ts';
import { sha256File } from '../../../agent/backup/fs-util.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { makeServer, Published, readTree, tempDir, TestAdminChannel, TestServerControl, writeTree } from './helpers.ts';

// `config check` accepts a folder destination without rclone; the engine must then not need rclone for it either.
test('a folder destination is written, verified and restored from with no rclone binary at all', async (t) => {
  const dir = await tempDir(t);
  const saves = path.join(dir, 'ark', 'SavedArks');
  await writeTree(saves, { 'TheIsland.ark': randomBytes(100_000), 'a.arkprofile': 'alice' });
  const nas = path.join(dir, 'mnt', 'nas', 'ark');
  // keepLocal false: once the folder copy is verified the local one goes, so the restore must read the folder.
  const server = makeServer({ savePaths: [saves], backup: { destinations: ['local', nas], keepLocal: false } });
  const pub = new Published();
  const engine = new BackupEngine({
    dataDir: path.join(dir, 'data'), rclone: { binary: path.join(dir, 'no-rclone-here'), timeoutMs: 5000 }, logger: silentLogger,
    publishRecord: pub.publishRecord, publishState: pub.publishState, zstdPoolSize: 1, uploadBackoffMs: 1, uploadAttempts: 1,
  });
  t.after(() => engine.close());
  await engine.init([server]);
  const control = new TestServerControl('running');
  const admin = new TestAdminChannel();
  const before = await readTree(saves);

  const rec = await engine.create(server, control, admin, { trigger: 'manual' });
  assert.deepEqual(rec.destinations, [{ target: nas, verified: true }], JSON.stringify(rec.destinations));
  // The layout rclone used for a path (<folder>/<serverId>/), so earlier backups there are still found.
  const copy = path.join(nas, server.id, `${rec.id}.tar.zst`);
  assert.deepEqual(await sha256File(copy), { sha256: rec.sha256, size: rec.size });
  assert.ok((await fs.readdir(path.join(nas, server.id))).includes(`${rec.id}.manifest.json`));
  assert.deepEqual(pub.alerts(), []);

  // A lock reaches the folder's manifest although no local manifest is left to carry it (keepLocal: false).
  await engine.lock(server, rec.id, true);
  assert.equal(JSON.parse(await fs.readFile(path.join(nas, server.id, `${rec.id}.manifest.json`), 'utf8')).locked, true);

  await writeTree(saves, { 'TheIsland.ark': 'griefed' });
  const r = await engine.restore(server, control, admin, { backupId: rec.id });
  assert.equal(r.from, nas);
  assert.deepEqual(await readTree(saves), before);
});
